//! Package URLs (placeholder until the purl module lands).

use crate::package::{Distro, Found, PackageKind};

/// The package's purl.
pub fn purl(kind: PackageKind, found: &Found, _distro: Option<&Distro>) -> String {
    format!("pkg:{}/{}@{}", kind.purl_type(), found.name, found.version)
}
