// Makes a key-based sigstore bundle the way sigstore-js does (@sigstore/bundle's
// toDSSEBundle and bundleToJSON, @sigstore/core's PAE, node's ECDSA P-256), for
// trust_bundle.rs to check that strata verifies a bundle it did not write.
//
//   NODE_PATH=/var/cache/strata-peers/node/node_modules \
//     node sigstore_sign.js REPOSITORY sha256:<hex> OUT_BUNDLE.json OUT_KEY.pub
//
// The statement is cosign's image signature (predicate https://sigstore.dev/cosign/sign/v1);
// the key is new, its SPKI PEM written to OUT_KEY.pub.
'use strict';
const fs = require('fs');
const nodeCrypto = require('crypto');
const { toDSSEBundle, bundleToJSON } = require('@sigstore/bundle');
const { dsse } = require('@sigstore/core');

const [repository, digest, bundleOut, keyOut] = process.argv.slice(2);
if (!keyOut) {
  console.error('usage: sigstore_sign.js REPOSITORY sha256:<hex> OUT_BUNDLE.json OUT_KEY.pub');
  process.exit(2);
}
const [alg, hex] = digest.split(':');
const statement = Buffer.from(
  JSON.stringify({
    _type: 'https://in-toto.io/Statement/v1',
    subject: [{ name: repository, digest: { [alg]: hex } }],
    predicateType: 'https://sigstore.dev/cosign/sign/v1',
    predicate: {},
  }),
);
const payloadType = 'application/vnd.in-toto+json';
const { publicKey, privateKey } = nodeCrypto.generateKeyPairSync('ec', { namedCurve: 'P-256' });
const signature = nodeCrypto.sign('sha256', dsse.preAuthEncoding(payloadType, statement), privateKey);
const der = publicKey.export({ type: 'spki', format: 'der' });
const keyHint = nodeCrypto.createHash('sha256').update(der).digest('base64');
const bundle = toDSSEBundle({ artifact: statement, artifactType: payloadType, signature, keyHint });
fs.writeFileSync(bundleOut, JSON.stringify(bundleToJSON(bundle)));
fs.writeFileSync(keyOut, publicKey.export({ type: 'spki', format: 'pem' }));
console.log(`signed: ${digest}`);
