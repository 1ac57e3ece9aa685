//! Differences from Docker not fixed yet: (case, what differs). The suite fails when one of
//! these starts agreeing (take it out) or when a case not listed differs.

/// The known differences of the containers suite. A new difference found is listed here
/// with what differs, until it is fixed (or, as `network_none_port`, kept on purpose).
pub const KNOWN: &[(&str, &str)] = &[(
    "network_none_port",
    "strata publishes -p under --network none (its forwarder dials into the container's \
     namespace; `port` lists the mapping); Docker 20.10 publishes nothing without a network",
)];
