//! Applying a [`Policy`] to one image: the rule for its reference, each requirement checked
//! against the signatures in its repository.
//!
//! The caller resolves the image to a manifest digest first and, when admitted, copies that
//! digest (not the tag again): what was checked is what is stored.

use std::collections::BTreeMap;

use oci::Descriptor;

use crate::policy::{KeyMatch, Policy, Requirement};
use crate::repo::SignatureRepo;
use crate::{TrustError, verify};

/// Why an image was admitted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Admission {
    /// The scope whose rule admitted it (`default`, or the scope as written).
    pub scope: String,
    /// The keys (file names) whose signatures verified; empty when the rule asks for none.
    pub verified_by: Vec<String>,
}

/// Checks the image `reference`, whose manifest (or index) in `repo` is `top`, against
/// `policy`. Refusals are [`TrustError::Refused`], naming the rule and the reason; a
/// registry that cannot be read is its own error.
pub async fn admit<R: SignatureRepo>(
    policy: &Policy,
    reference: &oci::Reference,
    repo: &R,
    top: &Descriptor,
) -> Result<Admission, TrustError> {
    let rule = policy.rule_for(reference);
    let image = reference.to_string();
    let refuse = |r: &Requirement, why: String| TrustError::Refused {
        image: image.clone(),
        policy: policy.path.clone(),
        scope: scope_label(rule.scope),
        requirement: r.type_name().to_string(),
        why,
    };
    let mut verified_by = Vec::new();
    for r in rule.requirements {
        match r {
            Requirement::InsecureAcceptAnything => {}
            Requirement::Reject => {
                return Err(refuse(r, "images from here are rejected".to_string()));
            }
            Requirement::SignedBy { keys, key_match } => {
                let mut failures = Vec::new();
                for k in keys {
                    match verify::verify_digest(repo, &image, top, &k.key, &BTreeMap::new()).await {
                        Ok(_) => {
                            verified_by.push(k.name.clone());
                            if *key_match == KeyMatch::Any {
                                break;
                            }
                        }
                        Err(TrustError::NoMatchingSignatures { reasons, .. }) => {
                            failures.push(format!("key {}: {}", k.name, reasons.join("; ")));
                        }
                        Err(e) => return Err(e),
                    }
                }
                let holds = match key_match {
                    KeyMatch::Any => failures.len() < keys.len(),
                    KeyMatch::All => failures.is_empty(),
                };
                if !holds {
                    let want = match key_match {
                        KeyMatch::Any if keys.len() > 1 => "a signature by any of its keys",
                        KeyMatch::Any => "a signature by its key",
                        KeyMatch::All => "a signature by each of its keys",
                    };
                    return Err(refuse(
                        r,
                        format!("the rule needs {want}: {}", failures.join("; ")),
                    ));
                }
            }
        }
    }
    Ok(Admission {
        scope: scope_label(rule.scope),
        verified_by,
    })
}

/// How a scope is named in messages: `default`, `docker:""` for the transport-wide entry,
/// the scope itself otherwise.
fn scope_label(scope: &str) -> String {
    match scope {
        "default" => "default".to_string(),
        "" => "transports.docker \"\"".to_string(),
        s => format!("transports.docker {s:?}"),
    }
}
