//! sigstore-rs doing what `strata sign` and `strata verify` do, for `benches/trust.py` to
//! time side by side: a verifier and signer nobody here wrote (the `sigstore` crate,
//! cosign feature), over plain HTTP to a loopback registry.
//!
//! ```text
//! sigstore_peer sign   KEY PASSWORD REPO@DIGEST ANNOTATION=VALUE   # append one signature
//! sigstore_peer verify PUB REPO@DIGEST                             # verify every signature
//! ```
//! `REPO` is `host:port/path`. Exits non-zero on failure.

use std::collections::BTreeMap;

use sigstore::cosign::verification_constraint::{PublicKeyVerifier, VerificationConstraintVec};
use sigstore::cosign::{Constraint as _, CosignCapabilities as _};
use sigstore::crypto::SigningScheme;
use sigstore::crypto::signing_key::SigStoreKeyPair;
use sigstore::registry::{Auth, ClientConfig, ClientProtocol, OciReference};

fn client() -> sigstore::cosign::Client {
    let config = ClientConfig {
        protocol: ClientProtocol::Http,
        ..Default::default()
    };
    sigstore::cosign::ClientBuilder::default()
        .with_oci_client_config(config)
        .build()
        .expect("a cosign client")
}

/// `sha256-<hex>.sig` in `repo` for `digest`.
fn signature_tag(repo: &str, digest: &str) -> OciReference {
    format!("{repo}:{}.sig", digest.replace(':', "-"))
        .parse()
        .expect("a signature reference")
}

async fn sign(key: &str, password: &str, image: &str, annotation: &str) -> Result<(), String> {
    let (repo, digest) = image.split_once('@').ok_or("REPO@DIGEST")?;
    let pem = std::fs::read(key).map_err(|e| e.to_string())?;
    let pair = SigStoreKeyPair::from_encrypted_pem(&pem, password.as_bytes())
        .map_err(|e| e.to_string())?;
    let reference: OciReference = image.parse().map_err(|e| format!("{e}"))?;
    let mut client = client();
    // The layers already there, kept: cosign appends a new signature to them.
    let mut layers = client
        .trusted_signature_layers(&Auth::Anonymous, &reference)
        .await
        .unwrap_or_default();
    let mut layer = sigstore::cosign::SignatureLayer::new_unsigned(&reference, digest)
        .map_err(|e| e.to_string())?;
    let (k, v) = annotation.split_once('=').ok_or("ANNOTATION=VALUE")?;
    layer.simple_signing.optional = Some(sigstore::cosign::payload::simple_signing::Optional {
        creator: None,
        timestamp: None,
        extra: BTreeMap::from([(k.to_string(), serde_json::Value::String(v.to_string()))])
            .into_iter()
            .collect(),
    });
    let signer = pair
        .to_sigstore_signer(&SigningScheme::ECDSA_P256_SHA256_ASN1)
        .map_err(|e| e.to_string())?;
    sigstore::cosign::constraint::PrivateKeySigner::new_with_signer(signer)
        .add_constraint(&mut layer)
        .map_err(|e| e.to_string())?;
    layers.push(layer);
    client
        .push_signature(None, &Auth::Anonymous, &signature_tag(repo, digest), layers)
        .await
        .map_err(|e| e.to_string())?;
    Ok(())
}

async fn verify(public: &str, image: &str) -> Result<usize, String> {
    let reference: OciReference = image.parse().map_err(|e| format!("{e}"))?;
    let pem = std::fs::read(public).map_err(|e| e.to_string())?;
    let layers = client()
        .trusted_signature_layers(&Auth::Anonymous, &reference)
        .await
        .map_err(|e| e.to_string())?;
    let verifier = PublicKeyVerifier::new(&pem, &SigningScheme::ECDSA_P256_SHA256_ASN1)
        .map_err(|e| e.to_string())?;
    let constraints: VerificationConstraintVec = vec![Box::new(verifier)];
    sigstore::cosign::verify_constraints(&layers, constraints.iter())
        .map_err(|e| format!("{e:?}"))?;
    Ok(layers.len())
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    let result = match args
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .as_slice()
    {
        ["sign", key, password, image, annotation] => rt
            .block_on(sign(key, password, image, annotation))
            .map(|()| 1),
        ["verify", public, image] => rt.block_on(verify(public, image)),
        _ => Err(
            "usage: sigstore_peer sign KEY PASSWORD REPO@DIGEST K=V | verify PUB REPO@DIGEST"
                .into(),
        ),
    };
    match result {
        Ok(n) => println!("{n}"),
        Err(e) => {
            eprintln!("sigstore_peer: {e}");
            std::process::exit(1);
        }
    }
}
