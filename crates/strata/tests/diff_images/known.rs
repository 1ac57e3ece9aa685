//! The differences from Docker the image-commands suite has found and strata has not fixed
//! yet, each with what differs precisely.

/// Differences not fixed yet: (case, reason). The suite fails when one of these starts
/// agreeing (take it out) or when a case not listed differs.
pub const KNOWN: &[(&str, &str)] = &[];
