//! Differences from Docker not fixed yet: (case, what differs). The suite fails when one of
//! these starts agreeing (take it out) or when a case not listed differs.

/// The known differences of the containers suite: none. A new difference found is listed
/// here with what differs, until it is fixed.
pub const KNOWN: &[(&str, &str)] = &[];
