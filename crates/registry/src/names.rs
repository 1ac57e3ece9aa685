//! The distribution-spec grammar for repository names and tags.
//!
//! A name is `<component>(/<component>)*` where a component is
//! `[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*`; a tag is `[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}`. Both
//! grammars exclude `.`, `..`, empty components and leading separators, so a checked name or
//! tag is safe to use as a storage key.

/// The longest repository name accepted (distribution's limit).
pub const NAME_MAX: usize = 255;

/// Whether `name` is a valid repository name (the reference grammar's, which `oci` owns).
pub fn valid_name(name: &str) -> bool {
    name.len() <= NAME_MAX && oci::reference::is_remote_name(name)
}

/// Whether `tag` is a valid tag.
pub fn valid_tag(tag: &str) -> bool {
    oci::reference::is_tag(tag)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        let cases: &[(&str, bool)] = &[
            ("a", true),
            ("library/ubuntu", true),
            ("a/b/c/d", true),
            ("my-repo", true),
            ("my--repo", true),
            ("my_repo", true),
            ("my__repo", true),
            ("my.repo", true),
            ("a0.b1-c2_d3", true),
            ("", false),
            ("A", false),
            ("Library/ubuntu", false),
            ("..", false),
            ("../b", false),
            ("a/../../b", false),
            ("a/./b", false),
            ("./a", false),
            ("a//b", false),
            ("/a", false),
            ("a/", false),
            ("-a", false),
            ("a-", false),
            ("a___b", false),
            ("a..b", false),
            ("a._b", false),
            ("_a", false),
            ("a b", false),
            ("a%2fb", false),
            ("a:b", false),
            ("a\\b", false),
        ];
        for (name, ok) in cases {
            assert_eq!(valid_name(name), *ok, "{name:?}");
        }
        assert!(valid_name(&"a".repeat(255)));
        assert!(!valid_name(&"a".repeat(256)));
    }

    #[test]
    fn tags() {
        let cases: &[(&str, bool)] = &[
            ("latest", true),
            ("v1.0", true),
            ("V1_x-Y", true),
            ("_x", true),
            ("", false),
            (".x", false),
            ("-x", false),
            ("a/b", false),
            ("a:b", false),
            ("..", false),
        ];
        for (tag, ok) in cases {
            assert_eq!(valid_tag(tag), *ok, "{tag:?}");
        }
        assert!(valid_tag(&"a".repeat(128)));
        assert!(!valid_tag(&"a".repeat(129)));
    }
}
