// Verifies a key-based sigstore bundle with @sigstore/verify, the verifier sigstore-js
// and npm use, as a peer nobody here wrote (trust_bundle.rs runs it).
//
//   NODE_PATH=/var/cache/strata-peers/node/node_modules \
//     node sigstore_verify.js BUNDLE.json KEY.pub sha256:<hex> [PREDICATE_TYPE]
//
// PREDICATE_TYPE is the statement's expected predicate type: cosign's image signature
// (https://sigstore.dev/cosign/sign/v1) by default, an SBOM's for an attestation.
//
// The key finder answers only the hint strata writes (base64 of the SHA-256 of the
// key's SPKI DER), so a bundle naming another key is refused. The trusted root is empty
// and the thresholds are 0: the bundle has no certificate, no transparency-log entry and
// no timestamp (@sigstore/verify wants one tlog entry by default). The Verifier checks
// the DSSE signature over the PAE; the statement's subject is checked here, as cosign
// does, since the Verifier does not read the statement.
'use strict';
const fs = require('fs');
const nodeCrypto = require('crypto');
const { bundleFromJSON } = require('@sigstore/bundle');
const { Verifier, toSignedEntity, toTrustMaterial } = require('@sigstore/verify');
const { crypto } = require('@sigstore/core');

function main() {
  const [bundlePath, keyPath, digest, predicateArg] = process.argv.slice(2);
  const predicateType = predicateArg || 'https://sigstore.dev/cosign/sign/v1';
  if (!digest) throw new Error('usage: sigstore_verify.js BUNDLE.json KEY.pub sha256:<hex>');
  const bundle = bundleFromJSON(JSON.parse(fs.readFileSync(bundlePath, 'utf8')));
  const pem = fs.readFileSync(keyPath, 'utf8');
  const der = nodeCrypto.createPublicKey(pem).export({ type: 'spki', format: 'der' });
  const ourHint = nodeCrypto.createHash('sha256').update(der).digest('base64');
  const keyFinder = (hint) => {
    if (hint !== ourHint) throw new Error(`no key for hint ${hint} (have ${ourHint})`);
    return { publicKey: crypto.createPublicKey(pem), validFor: () => true };
  };
  const root = { certificateAuthorities: [], timestampAuthorities: [], tlogs: [], ctlogs: [] };
  const verifier = new Verifier(toTrustMaterial(root, keyFinder), {
    tlogThreshold: 0,
    ctlogThreshold: 0,
    tsaThreshold: 0,
  });
  verifier.verify(toSignedEntity(bundle));
  const env = bundle.content.dsseEnvelope;
  if (env.payloadType !== 'application/vnd.in-toto+json') {
    throw new Error(`payload type ${env.payloadType}`);
  }
  const statement = JSON.parse(Buffer.from(env.payload).toString('utf8'));
  if (statement.predicateType !== predicateType) {
    throw new Error(`predicate type ${statement.predicateType}`);
  }
  const [alg, hex] = digest.split(':');
  if (!statement.subject.some((s) => s.digest && s.digest[alg] === hex)) {
    throw new Error(`statement subject ${JSON.stringify(statement.subject)} is not ${digest}`);
  }
  console.log(`verified: ${digest}`);
}

try {
  main();
} catch (e) {
  console.error(`refused: ${e.code ? e.code + ': ' : ''}${e.message}`);
  process.exit(1);
}
