//! A jar's `META-INF/MANIFEST.MF` main section, and the artifact a jar's file name
//! names: the two fallbacks [`super::java`] uses when no `pom.properties` is the jar's own.

/// The attributes of a manifest's main section that can name an artifact.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Manifest {
    attrs: Vec<(String, String)>,
}

impl Manifest {
    /// Parses the main section: lines (`\r\n`, `\n` or `\r`) up to the first empty one,
    /// a line starting with one space continuing the one before (joined without the
    /// space, as `java.util.jar.Manifest` does).
    pub fn parse(text: &str) -> Manifest {
        let mut lines: Vec<String> = Vec::new();
        for line in text.split("\r\n").flat_map(|l| l.split(['\n', '\r'])) {
            if line.is_empty() {
                break;
            }
            match (line.strip_prefix(' '), lines.last_mut()) {
                (Some(more), Some(last)) => last.push_str(more),
                _ => lines.push(line.to_owned()),
            }
        }
        let attrs = lines
            .iter()
            .filter_map(|l| l.split_once(':'))
            .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
            // `Bundle-Name: %bundleName` refers to a localisation file: no value here.
            .filter(|(_, v)| !v.is_empty() && !v.starts_with('%'))
            .collect();
        Manifest { attrs }
    }

    /// The value of `key` (the first, as a name is unique in a section).
    pub fn get(&self, key: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    fn first(&self, keys: &[&str]) -> Option<String> {
        keys.iter().find_map(|k| self.get(k)).map(str::to_owned)
    }

    /// Group, artifact and version, when the manifest gives all three (see
    /// [`super::java`] for which attributes, in which order).
    pub fn coordinates(&self) -> Option<(String, String, String)> {
        let group = match self.get("Implementation-Vendor-Id") {
            Some(g) => g.to_owned(),
            None => match self.get("Bundle-SymbolicName") {
                // `com.fasterxml.jackson.core.jackson-databind` → `com.fasterxml.jackson.core`
                Some(s) => s.rsplit_once('.').map_or(s, |(g, _)| g).to_owned(),
                None => self.first(&["Implementation-Vendor", "Specification-Vendor"])?,
            },
        };
        let artifact =
            self.first(&["Implementation-Title", "Specification-Title", "Bundle-Name"])?;
        let version = self.first(&[
            "Implementation-Version",
            "Specification-Version",
            "Bundle-Version",
        ])?;
        Some((group, artifact, version))
    }
}

/// The artifact and version a file name `artifact-version.jar` names (`guava-31.1-jre.jar`
/// → `guava`, `31.1-jre`): the version starts at the last `-` followed by a digit that
/// leaves an artifact of letters, digits, `.`, `_`, `-` not ending in `-`.
pub fn jar_file_name(name: &str) -> Option<(String, String)> {
    let stem = name.strip_suffix(".jar")?;
    let bytes = stem.as_bytes();
    (1..bytes.len().saturating_sub(1))
        .rev()
        .filter(|&i| bytes[i] == b'-' && bytes[i + 1].is_ascii_digit())
        .map(|i| (&stem[..i], &stem[i + 1..]))
        .find(|(artifact, version)| {
            let ok_char = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-');
            artifact.chars().all(ok_char)
                && !artifact.ends_with(['-', '*'])
                && !version.contains(char::is_whitespace)
        })
        .map(|(a, v)| (a.to_owned(), v.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn main_section() {
        let m = Manifest::parse(
            "Manifest-Version: 1.0\r\nBundle-SymbolicName: com.fasterxml.jackson.core.jackson-da\r\n tabind\r\nBundle-Name: %name\r\nBundle-Version: 2.15.0\r\nSpecification-Title: Jackson\r\n\r\nName: x/\r\nImplementation-Version: 0\r\n",
        );
        assert_eq!(
            m.get("Bundle-SymbolicName"),
            Some("com.fasterxml.jackson.core.jackson-databind")
        );
        assert_eq!(m.get("Bundle-Name"), None);
        assert_eq!(
            m.coordinates(),
            Some((
                "com.fasterxml.jackson.core".into(),
                "Jackson".into(),
                "2.15.0".into()
            ))
        );
        for (text, want) in [
            (
                "Implementation-Title: t\nImplementation-Version: 1\nImplementation-Vendor: V\n",
                Some(("V", "t", "1")),
            ),
            ("Implementation-Title: t\nImplementation-Version: 1\n", None),
            (
                "Bundle-SymbolicName: single\nBundle-Name: n\nBundle-Version: 2\n",
                Some(("single", "n", "2")),
            ),
            ("\nImplementation-Title: t\n", None),
            ("garbage", None),
        ] {
            let got = Manifest::parse(text).coordinates();
            let want = want.map(|(g, a, v): (&str, &str, &str)| (g.into(), a.into(), v.into()));
            assert_eq!(got, want, "{text}");
        }
    }

    #[test]
    fn file_names() {
        for (name, want) in [
            ("guava-31.1-jre.jar", Some(("guava", "31.1-jre"))),
            (
                "commons-lang3-3.12.0.jar",
                Some(("commons-lang3", "3.12.0")),
            ),
            (
                "spring-core-5.3.4-SNAPSHOT.jar",
                Some(("spring-core", "5.3.4-SNAPSHOT")),
            ),
            ("guava.jar", None),
            ("a-b.jar", None),
            ("-1.jar", None),
            ("x-1.war", None),
        ] {
            let want = want.map(|(a, v): (&str, &str)| (a.to_owned(), v.to_owned()));
            assert_eq!(jar_file_name(name), want, "{name}");
        }
    }
}
