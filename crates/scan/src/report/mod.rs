//! Scan reports.
