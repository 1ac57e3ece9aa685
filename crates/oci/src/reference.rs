//! Image references (`ubuntu`, `localhost:5000/app:v1`, `ghcr.io/o/r@sha256:…`) parsed and
//! normalised exactly as Docker does.
//!
//! Two layers live here:
//!
//! - [`Reference`], what the rest of strata uses: always normalised (`ubuntu` →
//!   `docker.io/library/ubuntu:latest`), digest typed as [`Digest`].
//! - The functions of Go's `github.com/distribution/reference` package, reimplemented by hand
//!   over [`Named`]: [`parse`] (`Parse`), [`parse_named`] (`ParseNamed`),
//!   [`parse_normalized_named`] (`ParseNormalizedNamed`), [`parse_docker_ref`]
//!   (`ParseDockerRef`), [`parse_any_reference`] (`ParseAnyReference`), [`with_name`],
//!   [`Named::with_tag`], [`Named::with_digest`], [`familiar_match`], and the grammar's
//!   building blocks ([`split_reference`], [`split_name`], [`is_domain`], [`is_identifier`]).
//!   Their errors carry the Go sentinel ([`ReferenceErrorKind`]), so the upstream test corpus
//!   runs against them unchanged.
//!
//! The grammar (from `distribution/reference/regexp.go`):
//!
//! ```text
//! reference   := name [ ":" tag ] [ "@" digest ]
//! name        := [ domain "/" ] path-component ( "/" path-component )*
//! domain      := ( domain-name | "[" ipv6 "]" ) [ ":" port-number ]
//! domain-name := component ( "." component )*    component := [a-zA-Z0-9]([a-zA-Z0-9-]*[a-zA-Z0-9])?
//! path-component := [a-z0-9]+ ( ( "." | "_" | "__" | "-"+ ) [a-z0-9]+ )*
//! tag         := [\w][\w.-]{0,127}
//! digest      := [A-Za-z][A-Za-z0-9]*([-_+.][A-Za-z][A-Za-z0-9]*)* ":" [0-9a-fA-F]{32,}
//! ```
//!
//! ```
//! use oci::Reference;
//! let r = Reference::parse("ubuntu").unwrap();
//! assert_eq!(r.to_string(), "docker.io/library/ubuntu:latest");
//! assert_eq!(r.familiar(), "ubuntu:latest");
//! assert_eq!(r.registry_api_host(), "registry-1.docker.io");
//! ```

use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::str::FromStr;

use crate::{Digest, OciError};

/// The longest repository path (name without domain) a reference may have.
pub const NAME_TOTAL_LENGTH_MAX: usize = 255;
/// Docker Hub's canonical domain.
pub const DEFAULT_DOMAIN: &str = "docker.io";
/// Docker Hub's old domain, rewritten to [`DEFAULT_DOMAIN`].
pub const LEGACY_DEFAULT_DOMAIN: &str = "index.docker.io";
/// The host that serves Docker Hub's registry API.
pub const DOCKER_HUB_API_HOST: &str = "registry-1.docker.io";
/// The namespace of Docker Hub's official images.
pub const OFFICIAL_REPO_PREFIX: &str = "library/";
/// The tag added when a reference has neither tag nor digest.
pub const DEFAULT_TAG: &str = "latest";

/// Which rule a reference broke: the sentinel errors of Go's `distribution/reference` and
/// `go-digest`, plus the formatted errors of `ParseNormalizedNamed`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ReferenceErrorKind {
    /// `ErrReferenceInvalidFormat`: does not match the grammar.
    InvalidFormat,
    /// `ErrTagInvalidFormat`: the tag does not match `[\w][\w.-]{0,127}`.
    TagInvalidFormat,
    /// `ErrDigestInvalidFormat`: the digest does not match the grammar.
    DigestInvalidFormat,
    /// `ErrNameContainsUppercase`: would match if lower-cased.
    NameContainsUppercase,
    /// `ErrNameEmpty`: the input is empty.
    NameEmpty,
    /// `ErrNameTooLong`: the path is over 255 characters.
    NameTooLong,
    /// `ErrNameNotCanonical`: `ParseNamed` wants the fully-qualified form.
    NameNotCanonical,
    /// `digest.ErrDigestInvalidFormat`: go-digest refuses the digest's shape.
    ChecksumInvalidFormat,
    /// `digest.ErrDigestInvalidLength`: the hex has the wrong length for its algorithm.
    ChecksumInvalidLength,
    /// `digest.ErrDigestUnsupported`: an algorithm this build does not implement.
    DigestUnsupported,
    /// A bare 64-hex string, which could be an image ID, given where a name is needed.
    HexIdentifier,
    /// The repository part has upper-case letters (`ParseNormalizedNamed`'s own check).
    RemoteNotLowercase {
        /// The repository part as Go reports it.
        remote: String,
    },
}

impl ReferenceErrorKind {
    /// The Go sentinel's name (`ErrNameTooLong`, `digest.ErrDigestUnsupported`), or `other`
    /// for errors Go formats on the fly.
    pub fn sentinel(&self) -> &'static str {
        match self {
            ReferenceErrorKind::InvalidFormat => "ErrReferenceInvalidFormat",
            ReferenceErrorKind::TagInvalidFormat => "ErrTagInvalidFormat",
            ReferenceErrorKind::DigestInvalidFormat => "ErrDigestInvalidFormat",
            ReferenceErrorKind::NameContainsUppercase => "ErrNameContainsUppercase",
            ReferenceErrorKind::NameEmpty => "ErrNameEmpty",
            ReferenceErrorKind::NameTooLong => "ErrNameTooLong",
            ReferenceErrorKind::NameNotCanonical => "ErrNameNotCanonical",
            ReferenceErrorKind::ChecksumInvalidFormat => "digest.ErrDigestInvalidFormat",
            ReferenceErrorKind::ChecksumInvalidLength => "digest.ErrDigestInvalidLength",
            ReferenceErrorKind::DigestUnsupported => "digest.ErrDigestUnsupported",
            ReferenceErrorKind::HexIdentifier | ReferenceErrorKind::RemoteNotLowercase { .. } => {
                "other"
            }
        }
    }
}

/// A reference that does not parse: which rule it broke, and the input.
///
/// `Display` gives Go's exact message (`repository name must be lowercase`), so messages
/// read like Docker's.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", self.message())]
pub struct ReferenceError {
    /// The rule broken.
    pub kind: ReferenceErrorKind,
    /// The string that was parsed.
    pub input: String,
}

impl ReferenceError {
    fn new(kind: ReferenceErrorKind, input: &str) -> ReferenceError {
        ReferenceError {
            kind,
            input: input.to_string(),
        }
    }

    /// The message Go's `distribution/reference` gives for this error.
    pub fn message(&self) -> String {
        match &self.kind {
            ReferenceErrorKind::InvalidFormat => "invalid reference format".into(),
            ReferenceErrorKind::TagInvalidFormat => "invalid tag format".into(),
            ReferenceErrorKind::DigestInvalidFormat => "invalid digest format".into(),
            ReferenceErrorKind::NameContainsUppercase => "repository name must be lowercase".into(),
            ReferenceErrorKind::NameEmpty => {
                "repository name must have at least one component".into()
            }
            ReferenceErrorKind::NameTooLong => {
                format!("repository name must not be more than {NAME_TOTAL_LENGTH_MAX} characters")
            }
            ReferenceErrorKind::NameNotCanonical => "repository name must be canonical".into(),
            ReferenceErrorKind::ChecksumInvalidFormat => "invalid checksum digest format".into(),
            ReferenceErrorKind::ChecksumInvalidLength => "invalid checksum digest length".into(),
            ReferenceErrorKind::DigestUnsupported => "unsupported digest algorithm".into(),
            ReferenceErrorKind::HexIdentifier => format!(
                "invalid repository name ({}), cannot specify 64-byte hexadecimal strings",
                self.input
            ),
            ReferenceErrorKind::RemoteNotLowercase { remote } => {
                format!("invalid reference format: repository name ({remote}) must be lowercase")
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// Grammar.

fn is_lower_alnum(b: u8) -> bool {
    b.is_ascii_lowercase() || b.is_ascii_digit()
}

/// `[a-z0-9]+ ((?:[._]|__|[-]+)[a-z0-9]+)*`
fn is_path_component(s: &str) -> bool {
    let b = s.as_bytes();
    let mut i = 0;
    loop {
        let start = i;
        while i < b.len() && is_lower_alnum(b[i]) {
            i += 1;
        }
        if i == start {
            return false;
        }
        if i == b.len() {
            return true;
        }
        match b[i] {
            b'.' => i += 1,
            b'_' => {
                i += 1;
                if i < b.len() && b[i] == b'_' {
                    i += 1;
                }
            }
            b'-' => {
                while i < b.len() && b[i] == b'-' {
                    i += 1;
                }
            }
            _ => return false,
        }
    }
}

/// Whether `s` is a repository path: `path-component ("/" path-component)*`, where a
/// component is `[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*` (no length limit here).
pub fn is_remote_name(s: &str) -> bool {
    s.split('/').all(is_path_component)
}

/// `[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9]`
fn is_domain_name_component(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b.iter().all(|c| c.is_ascii_alphanumeric() || *c == b'-')
        && b[0] != b'-'
        && b[b.len() - 1] != b'-'
}

/// Whether `s` is a registry domain: a host name, IPv4 address or bracketed IPv6 address,
/// with an optional numeric port (`DomainRegexp`, anchored).
pub fn is_domain(s: &str) -> bool {
    let (host_ok, rest) = if let Some(inner) = s.strip_prefix('[') {
        match inner.find(']') {
            Some(end) => {
                let addr = &inner[..end];
                (
                    !addr.is_empty() && addr.bytes().all(|c| c.is_ascii_hexdigit() || c == b':'),
                    &inner[end + 1..],
                )
            }
            None => return false,
        }
    } else {
        let (host, rest) = match s.find(':') {
            Some(i) => (&s[..i], &s[i..]),
            None => (s, ""),
        };
        (host.split('.').all(is_domain_name_component), rest)
    };
    host_ok
        && (rest.is_empty()
            || rest
                .strip_prefix(':')
                .is_some_and(|p| !p.is_empty() && p.bytes().all(|c| c.is_ascii_digit())))
}

/// Whether `s` is a tag: `[\w][\w.-]{0,127}`.
pub fn is_tag(s: &str) -> bool {
    let word = |c: u8| c.is_ascii_alphanumeric() || c == b'_';
    let b = s.as_bytes();
    !b.is_empty()
        && b.len() <= 128
        && word(b[0])
        && b[1..].iter().all(|c| word(*c) || *c == b'.' || *c == b'-')
}

/// `[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*[:][[:xdigit:]]{32,}`
fn is_digest_pattern(s: &str) -> bool {
    let Some((alg, hex)) = s.split_once(':') else {
        return false;
    };
    let alg_ok = alg.split(['-', '_', '+', '.']).all(|c| {
        let b = c.as_bytes();
        !b.is_empty() && b[0].is_ascii_alphabetic() && b.iter().all(u8::is_ascii_alphanumeric)
    });
    alg_ok && hex.len() >= 32 && hex.bytes().all(|c| c.is_ascii_hexdigit())
}

/// Whether `s` is a bare 64-character lower-case hex image ID (`anchoredIdentifierRegexp`).
pub fn is_identifier(s: &str) -> bool {
    s.len() == 64
        && s.bytes()
            .all(|c| c.is_ascii_digit() || (b'a'..=b'f').contains(&c))
}

/// Splits a name into domain and path as `anchoredNameRegexp` does: the first component is
/// the domain when it is one and a valid path follows, otherwise the domain is empty.
/// `None` when `name` is not a valid name.
pub fn split_name(name: &str) -> Option<(&str, &str)> {
    if let Some((first, rest)) = name.split_once('/')
        && is_domain(first)
        && is_remote_name(rest)
    {
        return Some((first, rest));
    }
    is_remote_name(name).then_some(("", name))
}

/// Splits a reference into name, tag and digest as `ReferenceRegexp` does (empty strings
/// for absent parts). `None` when `s` does not match the grammar.
pub fn split_reference(s: &str) -> Option<(&str, &str, &str)> {
    let (rest, digest) = match s.split_once('@') {
        Some((rest, digest)) => {
            if !is_digest_pattern(digest) {
                return None;
            }
            (rest, digest)
        }
        None => (s, ""),
    };
    // A tag cannot hold ':' or '/', and a path cannot hold ':', so a ':' after the last '/'
    // can only start the tag.
    let (name, tag) = match rest.rfind(':') {
        Some(i) if !rest[i + 1..].contains('/') => {
            let tag = &rest[i + 1..];
            if !is_tag(tag) {
                return None;
            }
            (&rest[..i], tag)
        }
        _ => (rest, ""),
    };
    split_name(name)?;
    Some((name, tag, digest))
}

/// Validates a digest as go-digest's `Parse` does. sha256 is always available; sha512 only
/// when `sha512` is set (Go's test binary of `distribution/reference` links only sha256).
fn validate_digest(s: &str, sha512: bool) -> Result<(), ReferenceErrorKind> {
    let Some(i) = s.find(':').filter(|i| *i > 0 && i + 1 < s.len()) else {
        return Err(ReferenceErrorKind::ChecksumInvalidFormat);
    };
    let (alg, hex) = (&s[..i], &s[i + 1..]);
    let hex_len = match alg {
        "sha256" => 64,
        "sha512" if sha512 => 128,
        _ => {
            // go-digest's DigestRegexpAnchored.
            let alg_ok = alg
                .split(['.', '+', '_', '-'])
                .all(|c| !c.is_empty() && c.bytes().all(is_lower_alnum));
            let hex_ok = hex
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'=' || b == b'_' || b == b'-');
            return Err(if alg_ok && hex_ok {
                ReferenceErrorKind::DigestUnsupported
            } else {
                ReferenceErrorKind::ChecksumInvalidFormat
            });
        }
    };
    if hex.len() != hex_len {
        return Err(ReferenceErrorKind::ChecksumInvalidLength);
    }
    if !hex
        .bytes()
        .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    {
        return Err(ReferenceErrorKind::ChecksumInvalidFormat);
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------
// Go's reference functions.

/// A parsed reference as Go's `distribution/reference` holds it: domain (may be empty when
/// not normalised), path, and optional tag and digest (the digest as a string, as Go's
/// `digest.Digest`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Named {
    /// The registry domain, or empty.
    pub domain: String,
    /// The repository path.
    pub path: String,
    /// The tag.
    pub tag: Option<String>,
    /// The digest.
    pub digest: Option<String>,
}

impl Named {
    /// `Name()`: domain and path.
    pub fn name(&self) -> String {
        if self.domain.is_empty() {
            self.path.clone()
        } else {
            format!("{}/{}", self.domain, self.path)
        }
    }

    /// The name with Docker Hub's domain and `library/` dropped (`FamiliarName`).
    pub fn familiar_name(&self) -> String {
        familiar_name_of(&self.domain, &self.path)
    }

    /// The whole reference in its shortest form (`FamiliarString`).
    pub fn familiar_string(&self) -> String {
        let mut s = self.familiar_name();
        self.push_suffix(&mut s);
        s
    }

    fn push_suffix(&self, s: &mut String) {
        if let Some(tag) = &self.tag {
            s.push(':');
            s.push_str(tag);
        }
        if let Some(digest) = &self.digest {
            s.push('@');
            s.push_str(digest);
        }
    }

    /// `WithTag`: the same name and digest with `tag`, checked.
    pub fn with_tag(&self, tag: &str) -> Result<Named, ReferenceError> {
        if !is_tag(tag) {
            return Err(ReferenceError::new(
                ReferenceErrorKind::TagInvalidFormat,
                tag,
            ));
        }
        Ok(Named {
            tag: Some(tag.to_string()),
            ..self.clone()
        })
    }

    /// `WithDigest`: the same name and tag with `digest`, checked against the grammar only.
    pub fn with_digest(&self, digest: &str) -> Result<Named, ReferenceError> {
        if !is_digest_pattern(digest) {
            return Err(ReferenceError::new(
                ReferenceErrorKind::DigestInvalidFormat,
                digest,
            ));
        }
        Ok(Named {
            digest: Some(digest.to_string()),
            ..self.clone()
        })
    }

    /// `TrimNamed`: the name alone.
    pub fn trim(&self) -> Named {
        Named {
            tag: None,
            digest: None,
            ..self.clone()
        }
    }

    /// `TagNameOnly`: adds `latest` when there is neither tag nor digest.
    pub fn tag_name_only(self) -> Named {
        if self.tag.is_none() && self.digest.is_none() {
            Named {
                tag: Some(DEFAULT_TAG.to_string()),
                ..self
            }
        } else {
            self
        }
    }
}

impl fmt::Display for Named {
    /// `String()`: `name[:tag][@digest]`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut s = self.name();
        self.push_suffix(&mut s);
        f.write_str(&s)
    }
}

/// What [`parse_any_reference`] returns: a name, or a bare digest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AnyReference {
    /// A named reference.
    Named(Named),
    /// A digest with no name (`sha256:<hex>`, or a bare 64-hex ID taken as sha256).
    Digest(String),
}

impl fmt::Display for AnyReference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AnyReference::Named(n) => n.fmt(f),
            AnyReference::Digest(d) => f.write_str(d),
        }
    }
}

/// `domain/path` in Docker's short form (`ubuntu`, `user/app`, `ghcr.io/o/r`).
fn familiar_name_of(domain: &str, path: &str) -> String {
    let (domain, path) = familiarize(domain, path);
    if domain.is_empty() {
        path.to_string()
    } else {
        format!("{domain}/{path}")
    }
}

fn familiarize<'a>(domain: &'a str, path: &'a str) -> (&'a str, &'a str) {
    if domain != DEFAULT_DOMAIN {
        return (domain, path);
    }
    match path.strip_prefix(OFFICIAL_REPO_PREFIX) {
        Some(rest) if !rest.contains('/') => ("", rest),
        _ => ("", path),
    }
}

fn parse_with(s: &str, sha512: bool) -> Result<Named, ReferenceError> {
    let Some((name, tag, digest)) = split_reference(s) else {
        let kind = if s.is_empty() {
            ReferenceErrorKind::NameEmpty
        } else if split_reference(&s.to_lowercase()).is_some() {
            ReferenceErrorKind::NameContainsUppercase
        } else {
            ReferenceErrorKind::InvalidFormat
        };
        return Err(ReferenceError::new(kind, s));
    };
    let (domain, path) = split_name(name).unwrap_or(("", name));
    if path.len() > NAME_TOTAL_LENGTH_MAX {
        return Err(ReferenceError::new(ReferenceErrorKind::NameTooLong, s));
    }
    if !digest.is_empty() {
        validate_digest(digest, sha512).map_err(|k| ReferenceError::new(k, s))?;
    }
    Ok(Named {
        domain: domain.to_string(),
        path: path.to_string(),
        tag: (!tag.is_empty()).then(|| tag.to_string()),
        digest: (!digest.is_empty()).then(|| digest.to_string()),
    })
}

/// `Parse`: the strict grammar, no normalisation (`ubuntu` has an empty domain).
pub fn parse(s: &str) -> Result<Named, ReferenceError> {
    parse_with(s, false)
}

/// `splitDockerDomain`: the domain Docker assumes and the rest of the reference.
pub fn split_docker_domain(name: &str) -> (String, String) {
    let Some((maybe_domain, maybe_remote)) = name.split_once('/') else {
        return (
            DEFAULT_DOMAIN.to_string(),
            format!("{OFFICIAL_REPO_PREFIX}{name}"),
        );
    };
    let (domain, remote) = if maybe_domain == "localhost" {
        (maybe_domain, maybe_remote)
    } else if maybe_domain == LEGACY_DEFAULT_DOMAIN {
        (DEFAULT_DOMAIN, maybe_remote)
    } else if maybe_domain.contains(['.', ':']) || maybe_domain.to_lowercase() != maybe_domain {
        (maybe_domain, maybe_remote)
    } else {
        (DEFAULT_DOMAIN, name)
    };
    if domain == DEFAULT_DOMAIN && !remote.contains('/') {
        return (
            domain.to_string(),
            format!("{OFFICIAL_REPO_PREFIX}{remote}"),
        );
    }
    (domain.to_string(), remote.to_string())
}

fn parse_normalized_with(s: &str, sha512: bool) -> Result<Named, ReferenceError> {
    if is_identifier(s) {
        return Err(ReferenceError::new(ReferenceErrorKind::HexIdentifier, s));
    }
    let (domain, remainder) = split_docker_domain(s);
    let remote = remainder.split_once(':').map_or(&*remainder, |(r, _)| r);
    if remote.to_lowercase() != remote {
        return Err(ReferenceError::new(
            ReferenceErrorKind::RemoteNotLowercase {
                remote: remote.to_string(),
            },
            s,
        ));
    }
    parse_with(&format!("{domain}/{remainder}"), sha512).map_err(|e| ReferenceError {
        input: s.to_string(),
        ..e
    })
}

/// `ParseNormalizedNamed`: Docker's normalisation (`ubuntu` → `docker.io/library/ubuntu`).
/// Refuses bare 64-hex IDs and upper-case repository names.
pub fn parse_normalized_named(s: &str) -> Result<Named, ReferenceError> {
    parse_normalized_with(s, false)
}

/// `ParseDockerRef`: [`parse_normalized_named`], then `latest` when there is neither tag
/// nor digest; a tag next to a digest is dropped.
pub fn parse_docker_ref(s: &str) -> Result<Named, ReferenceError> {
    let named = parse_normalized_named(s)?;
    if named.digest.is_some() {
        return Ok(Named { tag: None, ..named });
    }
    Ok(named.tag_name_only())
}

/// `ParseNamed`: [`parse_normalized_named`] that also wants the input fully qualified
/// already.
pub fn parse_named(s: &str) -> Result<Named, ReferenceError> {
    let named = parse_normalized_named(s)?;
    if named.to_string() != s {
        return Err(ReferenceError::new(ReferenceErrorKind::NameNotCanonical, s));
    }
    Ok(named)
}

/// `ParseAnyReference`: a bare 64-hex ID or a valid digest becomes a digest reference,
/// anything else goes through [`parse_normalized_named`].
pub fn parse_any_reference(s: &str) -> Result<AnyReference, ReferenceError> {
    if is_identifier(s) {
        return Ok(AnyReference::Digest(format!("sha256:{s}")));
    }
    if validate_digest(s, false).is_ok() {
        return Ok(AnyReference::Digest(s.to_string()));
    }
    parse_normalized_named(s).map(AnyReference::Named)
}

/// `WithName`: a name with no tag or digest, checked.
pub fn with_name(name: &str) -> Result<Named, ReferenceError> {
    let Some((domain, path)) = split_name(name) else {
        return Err(ReferenceError::new(ReferenceErrorKind::InvalidFormat, name));
    };
    if path.len() > NAME_TOTAL_LENGTH_MAX {
        return Err(ReferenceError::new(ReferenceErrorKind::NameTooLong, name));
    }
    Ok(Named {
        domain: domain.to_string(),
        path: path.to_string(),
        tag: None,
        digest: None,
    })
}

/// `FamiliarMatch`: whether `pattern` (Go `path.Match` syntax: `*`, `?`, `[a-z]`, `\`)
/// matches the familiar string of `r`, or its familiar name.
pub fn familiar_match(pattern: &str, r: &Named) -> Result<bool, ReferenceError> {
    let bad = || ReferenceError::new(ReferenceErrorKind::InvalidFormat, pattern);
    let matched = path_match(pattern, &r.familiar_string()).ok_or_else(bad)?;
    if matched {
        return Ok(true);
    }
    Ok(path_match(pattern, &r.familiar_name()).unwrap_or(false))
}

/// Go's `path.Match`; `None` for a malformed pattern.
fn path_match(pattern: &str, name: &str) -> Option<bool> {
    let p: Vec<char> = pattern.chars().collect();
    let n: Vec<char> = name.chars().collect();
    glob(&p, &n)
}

fn glob(p: &[char], n: &[char]) -> Option<bool> {
    match p.first() {
        None => Some(n.is_empty()),
        Some('*') => {
            // `*` matches any run of non-'/' characters.
            let rest = &p[1..];
            let mut i = 0;
            loop {
                if glob(rest, &n[i..])? {
                    return Some(true);
                }
                if i == n.len() || n[i] == '/' {
                    return Some(false);
                }
                i += 1;
            }
        }
        Some('?') => match n.first() {
            Some(c) if *c != '/' => glob(&p[1..], &n[1..]),
            _ => Some(false),
        },
        Some('[') => {
            let (matched, consumed) = class(&p[1..], n.first().copied())?;
            if matched {
                glob(&p[1 + consumed..], &n[1..])
            } else {
                Some(false)
            }
        }
        Some('\\') => {
            let c = *p.get(1)?;
            match n.first() {
                Some(x) if *x == c => glob(&p[2..], &n[1..]),
                _ => Some(false),
            }
        }
        Some(c) => match n.first() {
            Some(x) if x == c => glob(&p[1..], &n[1..]),
            _ => Some(false),
        },
    }
}

/// A `[...]` class after the `[`: (matches, chars consumed including `]`).
fn class(p: &[char], c: Option<char>) -> Option<(bool, usize)> {
    let mut i = 0;
    let negate = p.first() == Some(&'^');
    if negate {
        i += 1;
    }
    let mut matched = false;
    let mut first = true;
    loop {
        let lo = *p.get(i)?;
        if lo == ']' && !first {
            i += 1;
            break;
        }
        first = false;
        let lo = if lo == '\\' {
            i += 1;
            *p.get(i)?
        } else {
            lo
        };
        i += 1;
        let mut hi = lo;
        if p.get(i) == Some(&'-') && p.get(i + 1).is_some_and(|x| *x != ']') {
            hi = p[i + 1];
            i += 2;
            if hi == '\\' {
                hi = *p.get(i)?;
                i += 1;
            }
        }
        if let Some(c) = c
            && lo <= c
            && c <= hi
        {
            matched = true;
        }
    }
    let Some(c) = c else {
        return Some((false, i));
    };
    Some((matched != negate && c != '/', i))
}

// ---------------------------------------------------------------------------------------
// The normalised reference strata uses.

/// A normalised image reference: `docker.io/library/ubuntu:latest`,
/// `localhost:5000/app@sha256:…`.
///
/// Parsing follows Docker (`ParseNormalizedNamed`): Docker Hub's domain and `library/` are
/// filled in, and `latest` is added when there is neither tag nor digest. A reference with
/// both keeps both (`name:tag@digest`); the digest is what gets pulled.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Reference {
    domain: String,
    path: String,
    tag: Option<String>,
    digest: Option<Digest>,
}

impl Reference {
    /// Parses and normalises a reference as Docker does. Accepts sha256 and sha512 digests.
    pub fn parse(s: &str) -> Result<Reference, OciError> {
        let err = |source: ReferenceError| OciError::Reference {
            input: s.to_string(),
            source,
        };
        let named = parse_normalized_with(s, true).map_err(err)?;
        Reference::from_named(named).map_err(err)
    }

    /// Converts a Go-style [`Named`] (normalised or not): adds `latest` when there is
    /// neither tag nor digest.
    pub fn from_named(named: Named) -> Result<Reference, ReferenceError> {
        let digest = match &named.digest {
            Some(d) => {
                let input = named.to_string();
                validate_digest(d, true).map_err(|k| ReferenceError::new(k, &input))?;
                Some(d.parse::<Digest>().map_err(|_| {
                    ReferenceError::new(ReferenceErrorKind::DigestUnsupported, &input)
                })?)
            }
            None => None,
        };
        let tag = match (named.tag, &digest) {
            (None, None) => Some(DEFAULT_TAG.to_string()),
            (tag, _) => tag,
        };
        Ok(Reference {
            domain: named.domain,
            path: named.path,
            tag,
            digest,
        })
    }

    /// The registry domain (`docker.io`, `localhost:5000`, `[::1]:5000`).
    pub fn domain(&self) -> &str {
        &self.domain
    }

    /// The repository path inside the registry (`library/ubuntu`).
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The tag, if any.
    pub fn tag(&self) -> Option<&str> {
        self.tag.as_deref()
    }

    /// The digest, if any.
    pub fn digest(&self) -> Option<&Digest> {
        self.digest.as_ref()
    }

    /// The repository: domain and path, no tag or digest (`docker.io/library/ubuntu`).
    pub fn repository(&self) -> String {
        format!("{}/{}", self.domain, self.path)
    }

    /// The repository as Docker shows it (`ubuntu`, `user/app`, `ghcr.io/o/r`).
    pub fn familiar_name(&self) -> String {
        familiar_name_of(&self.domain, &self.path)
    }

    /// The whole reference as Docker shows it (`ubuntu:latest`).
    pub fn familiar(&self) -> String {
        let mut s = self.familiar_name();
        self.push_suffix(&mut s);
        s
    }

    fn push_suffix(&self, s: &mut String) {
        if let Some(tag) = &self.tag {
            s.push(':');
            s.push_str(tag);
        }
        if let Some(digest) = &self.digest {
            s.push('@');
            s.push_str(&digest.to_string());
        }
    }

    /// The same repository and digest with `tag` (checked against the tag grammar).
    pub fn with_tag(&self, tag: &str) -> Result<Reference, OciError> {
        if !is_tag(tag) {
            return Err(OciError::Reference {
                input: format!("{}:{tag}", self.repository()),
                source: ReferenceError::new(ReferenceErrorKind::TagInvalidFormat, tag),
            });
        }
        Ok(Reference {
            tag: Some(tag.to_string()),
            ..self.clone()
        })
    }

    /// The same repository and tag, pinned to `digest`.
    pub fn with_digest(&self, digest: Digest) -> Reference {
        Reference {
            digest: Some(digest),
            ..self.clone()
        }
    }

    /// The repository alone, with neither tag nor digest. Its `Display` is the repository.
    pub fn without_tag_or_digest(&self) -> Reference {
        Reference {
            tag: None,
            digest: None,
            ..self.clone()
        }
    }

    /// What to ask the registry's manifest endpoint for (`/v2/<path>/manifests/<this>`):
    /// the digest when there is one, else the tag.
    pub fn tag_or_digest(&self) -> String {
        match (&self.digest, &self.tag) {
            (Some(d), _) => d.to_string(),
            (None, Some(t)) => t.clone(),
            (None, None) => DEFAULT_TAG.to_string(),
        }
    }

    /// Whether the repository is on Docker Hub.
    pub fn is_docker_hub(&self) -> bool {
        self.domain == DEFAULT_DOMAIN
    }

    /// The host (and port) to send registry API requests to: `registry-1.docker.io` for
    /// Docker Hub, the domain otherwise.
    pub fn registry_api_host(&self) -> &str {
        if self.is_docker_hub() {
            DOCKER_HUB_API_HOST
        } else {
            &self.domain
        }
    }

    /// Whether the registry is on this machine (`localhost`, `127.0.0.0/8`, `::1`, with or
    /// without a port), where Docker falls back to plain HTTP.
    pub fn is_loopback(&self) -> bool {
        is_loopback_domain(&self.domain)
    }
}

/// Whether a registry domain (with optional port) names this machine.
pub fn is_loopback_domain(domain: &str) -> bool {
    let host = if let Some(inner) = domain.strip_prefix('[') {
        inner.split(']').next().unwrap_or("")
    } else {
        domain.split(':').next().unwrap_or("")
    };
    if host.eq_ignore_ascii_case("localhost") {
        return true;
    }
    if let Ok(ip) = host.parse::<Ipv4Addr>() {
        return ip.is_loopback();
    }
    host.parse::<Ipv6Addr>().is_ok_and(|ip| ip.is_loopback())
}

impl fmt::Display for Reference {
    /// The full form: `docker.io/library/ubuntu:latest`, `name:tag@digest`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut s = self.repository();
        self.push_suffix(&mut s);
        f.write_str(&s)
    }
}

impl FromStr for Reference {
    type Err = OciError;

    fn from_str(s: &str) -> Result<Reference, OciError> {
        Reference::parse(s)
    }
}

impl serde::Serialize for Reference {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for Reference {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Reference, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEX: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

    #[test]
    fn normalises_docker_names() {
        for (input, want, familiar) in [
            ("ubuntu", "docker.io/library/ubuntu:latest", "ubuntu:latest"),
            (
                "ubuntu:22.04",
                "docker.io/library/ubuntu:22.04",
                "ubuntu:22.04",
            ),
            ("user/app", "docker.io/user/app:latest", "user/app:latest"),
            (
                "index.docker.io/library/ubuntu",
                "docker.io/library/ubuntu:latest",
                "ubuntu:latest",
            ),
            (
                "localhost:5000/app",
                "localhost:5000/app:latest",
                "localhost:5000/app:latest",
            ),
            (
                "localhost/app",
                "localhost/app:latest",
                "localhost/app:latest",
            ),
            (
                "[::1]:5000/a/b:v1",
                "[::1]:5000/a/b:v1",
                "[::1]:5000/a/b:v1",
            ),
        ] {
            let r = Reference::parse(input).unwrap();
            assert_eq!(r.to_string(), want, "{input}");
            assert_eq!(r.familiar(), familiar, "{input}");
        }
    }

    #[test]
    fn digests_keep_or_skip_the_tag() {
        let r = Reference::parse(&format!("a/b@sha256:{HEX}")).unwrap();
        assert_eq!(r.tag(), None);
        assert_eq!(r.to_string(), format!("docker.io/a/b@sha256:{HEX}"));
        let r = Reference::parse(&format!("a/b:v1@sha256:{HEX}")).unwrap();
        assert_eq!(r.tag(), Some("v1"));
        assert_eq!(r.to_string(), format!("docker.io/a/b:v1@sha256:{HEX}"));
        let sha512 = Digest::of(crate::Algorithm::Sha512, b"x");
        let r = Reference::parse(&format!("ghcr.io/o/r@{sha512}")).unwrap();
        assert_eq!(r.digest(), Some(&sha512));
        assert_eq!(r.without_tag_or_digest().to_string(), "ghcr.io/o/r");
        assert_eq!(
            r.with_digest(Digest::sha256_of(b""))
                .with_tag("t")
                .unwrap()
                .to_string(),
            format!("ghcr.io/o/r:t@sha256:{HEX}")
        );
        assert!(r.with_tag("bad tag").is_err());
        assert_eq!(r.tag_or_digest(), sha512.to_string());
        assert_eq!(Reference::parse("a:v2").unwrap().tag_or_digest(), "v2");
    }

    #[test]
    fn rejects_with_the_go_sentinel() {
        for (input, sentinel) in [
            ("", "ErrReferenceInvalidFormat"),
            ("Ubuntu", "other"),
            ("a/B", "other"),
            (HEX, "other"),
            ("a/b@sha256:abc", "ErrReferenceInvalidFormat"),
            (
                "a/b@md5:0123456789abcdef0123456789abcdef",
                "digest.ErrDigestUnsupported",
            ),
            ("a//b", "ErrReferenceInvalidFormat"),
        ] {
            match Reference::parse(input) {
                Err(OciError::Reference { source, .. }) => {
                    assert_eq!(source.kind.sentinel(), sentinel, "{input}")
                }
                other => panic!("{input}: {other:?}"),
            }
        }
    }

    #[test]
    fn hosts_and_loopback() {
        for (input, host, loopback) in [
            ("ubuntu", "registry-1.docker.io", false),
            ("localhost/a", "localhost", true),
            ("localhost:5000/a", "localhost:5000", true),
            ("127.0.0.1:5000/a", "127.0.0.1:5000", true),
            ("127.3.2.1/a", "127.3.2.1", true),
            ("[::1]:5000/a", "[::1]:5000", true),
            ("[::1]/a", "[::1]", true),
            ("128.0.0.1/a", "128.0.0.1", false),
            ("quay.io/a/b", "quay.io", false),
            ("localhostx:80/a", "localhostx:80", false),
        ] {
            let r = Reference::parse(input).unwrap();
            assert_eq!(r.registry_api_host(), host, "{input}");
            assert_eq!(r.is_loopback(), loopback, "{input}");
        }
    }

    #[test]
    fn path_match_follows_go() {
        for (pattern, name, want) in [
            ("a*", "abc", Some(true)),
            ("a*", "a/b", Some(false)),
            ("a?c", "abc", Some(true)),
            ("[a-c]x", "bx", Some(true)),
            ("[^a-c]x", "bx", Some(false)),
            ("a\\*", "a*", Some(true)),
            ("[", "a", None),
        ] {
            assert_eq!(path_match(pattern, name), want, "{pattern} {name}");
        }
    }
}
