//! The secret rules: a planted secret of every rule's kind is found on its line, a near
//! miss of each is not, nothing is found in this Debian machine's own files but the keys
//! that really are there, and every secret Yelp's detect-secrets finds in the planted
//! files (for the kinds both have) is found here too.

mod common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use common::Rng;
use scan::catalog::FileMeta;
use scan::secrets::{Finding, MAX_FILE, Scanner};

const UPPER32: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
const ALNUM: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
const B64: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
const URLSAFE: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

fn meta(path: &str, size: usize) -> FileMeta {
    FileMeta {
        path: path.to_owned(),
        mode: 0o644,
        size: size as u64,
    }
}

fn scan(path: &str, text: &str) -> Vec<Finding> {
    Scanner::builtin()
        .scan(&meta(path, text.len()), &mut text.as_bytes())
        .expect("reading from memory cannot fail")
}

/// A PEM block with a random body of `lines` lines of 64 characters.
fn pem(rng: &mut Rng, label: &str, headers: &[&str], lines: usize) -> String {
    let mut out = format!("-----BEGIN {label}-----\n");
    for h in headers {
        out.push_str(h);
        out.push('\n');
    }
    if !headers.is_empty() {
        out.push('\n');
    }
    for _ in 0..lines {
        out.push_str(&rng.word(B64, 64));
        out.push('\n');
    }
    out.push_str(&format!("=abcd\n-----END {label}-----\n"));
    out
}

fn openssl_key(args: &[&str]) -> String {
    let out = Command::new("openssl")
        .args(args)
        .output()
        .expect("openssl runs (install it: apt-get install openssl)");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("PEM is text")
}

fn jwt(rng: &mut Rng) -> String {
    format!(
        "{}.{}.{}",
        URL_SAFE_NO_PAD.encode(br#"{"alg":"HS256","typ":"JWT"}"#),
        URL_SAFE_NO_PAD.encode(br#"{"sub":"1234567890","name":"Ada","iat":1516239022}"#),
        rng.word(URLSAFE, 43)
    )
}

/// One planted case: the file's path, its text, and the rule and 1-based line expected.
struct Planted {
    path: String,
    text: String,
    rule: &'static str,
    line: usize,
    secret: String,
}

/// Three lines of ordinary config, then `body` (whose finding is on its `at`-th line, from
/// 1), then a trailer.
fn planted(path: &str, rule: &'static str, body: String, at: usize, secret: String) -> Planted {
    let text = format!("# settings\nname = demo\nport = 8080\n{body}\n# end\n");
    Planted {
        path: path.to_owned(),
        text,
        rule,
        line: 3 + at,
        secret,
    }
}

fn planted_cases() -> Vec<Planted> {
    let mut rng = Rng::new(0x5ec7e75);
    let mut cases = Vec::new();
    let mut one = |path: &str, rule: &'static str, line: String, secret: String| {
        cases.push(planted(path, rule, line, 1, secret));
    };
    let akia = format!("AKIA{}", rng.word(UPPER32, 16));
    one(
        "app/.env",
        "aws-access-key-id",
        format!("AWS_ACCESS_KEY_ID={akia}"),
        akia,
    );
    let asia = format!("ASIA{}", rng.word(UPPER32, 16));
    one(
        "root/.aws/credentials",
        "aws-access-key-id",
        format!("aws_access_key_id = {asia}"),
        asia,
    );
    let sk = rng.word(B64, 40);
    one(
        "root/.aws/credentials",
        "aws-secret-access-key",
        format!("aws_secret_access_key = {sk}"),
        sk,
    );
    let sk = rng.word(B64, 40);
    one(
        "app/config.json",
        "aws-secret-access-key",
        format!(r#"  "AwsSecretAccessKey": "{sk}","#),
        sk,
    );
    let ghp = format!("ghp_{}", rng.word(ALNUM, 36));
    one(
        "app/deploy.sh",
        "github-pat",
        format!("export GITHUB_TOKEN={ghp}"),
        ghp,
    );
    let ghs = format!("ghs_{}", rng.word(ALNUM, 36));
    one("app/ci.yml", "github-pat", format!("token: '{ghs}'"), ghs);
    let fine = format!("github_pat_{}_{}", rng.word(ALNUM, 22), rng.word(ALNUM, 59));
    one("app/ci.yml", "github-pat", format!("token: {fine}"), fine);
    let gl = format!("glpat-{}", rng.word(URLSAFE, 20));
    one(
        "app/.gitlab-token",
        "gitlab-pat",
        format!("GITLAB_TOKEN=\"{gl}\""),
        gl,
    );
    let xoxb = format!(
        "xoxb-{}-{}-{}",
        rng.word("0123456789", 12),
        rng.word("0123456789", 13),
        rng.word(ALNUM, 24)
    );
    one(
        "app/bot.py",
        "slack-token",
        format!("SLACK = \"{xoxb}\""),
        xoxb,
    );
    let hook = format!(
        "T{}/B{}/{}",
        rng.word("ABCDEFGHIJ0123456789", 8),
        rng.word("ABCDEFGHIJ0123456789", 10),
        rng.word(ALNUM, 24)
    );
    one(
        "app/notify.sh",
        "slack-webhook",
        format!("curl -X POST https://hooks.slack.com/services/{hook}"),
        hook,
    );
    let aiza = format!("AIza{}", rng.word(URLSAFE, 35));
    one(
        "app/maps.js",
        "google-api-key",
        format!("const key = '{aiza}';"),
        aiza,
    );
    let stripe = format!("sk_live_{}", rng.word(ALNUM, 24));
    one(
        "app/pay.rb",
        "stripe-secret-key",
        format!("Stripe.api_key = \"{stripe}\""),
        stripe,
    );
    let npm = format!("npm_{}", rng.word(ALNUM, 36));
    one(
        "root/.npmrc",
        "npm-token",
        format!("//registry.npmjs.org/:_authToken={npm}"),
        npm,
    );
    let pypi = format!("pypi-AgEIcHlwaS5vcmc{}", rng.word(URLSAFE, 70));
    one(
        "root/.pypirc",
        "pypi-token",
        format!("password = {pypi}"),
        pypi,
    );
    let token = jwt(&mut rng);
    one(
        "app/session.txt",
        "jwt",
        format!("Authorization: Bearer {token}"),
        token,
    );
    let azure = format!("{}==", rng.word(B64, 86));
    one(
        "app/appsettings.json",
        "azure-storage-key",
        format!(
            "\"Storage\": \"DefaultEndpointsProtocol=https;AccountName=acme;AccountKey={azure};EndpointSuffix=core.windows.net\""
        ),
        azure,
    );
    let pw = format!("Q{}9", rng.word(ALNUM, 14));
    one(
        "app/db.conf",
        "generic-password-in-url",
        format!("url = postgres://app:{pw}@db.internal:5432/app"),
        pw,
    );
    let auth = STANDARD.encode("deploy:9f2k3LmQz");
    cases.push(planted(
        "root/.docker/config.json",
        "docker-config-auth",
        format!("{{\n  \"auths\": {{\n    \"registry.example.com\": {{\n      \"auth\": \"{auth}\"\n    }}\n  }}\n}}"),
        4,
        auth,
    ));
    for (label, headers) in [
        ("RSA PRIVATE KEY", &[][..]),
        (
            "RSA PRIVATE KEY",
            &[
                "Proc-Type: 4,ENCRYPTED",
                "DEK-Info: AES-128-CBC,0123456789ABCDEF0123456789ABCDEF",
            ][..],
        ),
        ("EC PRIVATE KEY", &[][..]),
        ("DSA PRIVATE KEY", &[][..]),
        ("OPENSSH PRIVATE KEY", &[][..]),
        ("ENCRYPTED PRIVATE KEY", &[][..]),
        ("PGP PRIVATE KEY BLOCK", &["Version: GnuPG v2"][..]),
    ] {
        let block = pem(&mut rng, label, headers, 6);
        cases.push(planted(
            "root/.ssh/id_key",
            "private-key",
            block.trim_end().to_owned(),
            1,
            String::new(),
        ));
    }
    // Real keys from openssl, as files hold them.
    for args in [
        &[
            "genpkey",
            "-algorithm",
            "RSA",
            "-pkeyopt",
            "rsa_keygen_bits:1024",
        ][..],
        &[
            "genpkey",
            "-algorithm",
            "EC",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
        ][..],
        &["genpkey", "-algorithm", "ED25519"][..],
    ] {
        let key = openssl_key(args);
        cases.push(planted(
            "etc/app/tls.key",
            "private-key",
            key.trim_end().to_owned(),
            1,
            String::new(),
        ));
    }
    // A key in JSON, on one line with `\n` escapes, and a service-account file holding one.
    let escaped = openssl_key(&["genpkey", "-algorithm", "ED25519"]).replace('\n', "\\n");
    cases.push(planted(
        "app/key.json",
        "private-key",
        format!("{{\"key\": \"{escaped}\"}}"),
        1,
        String::new(),
    ));
    let sa = format!(
        "{{\n  \"type\": \"service_account\",\n  \"project_id\": \"demo\",\n  \"private_key_id\": \"{}\",\n  \"private_key\": \"{escaped}\",\n  \"client_email\": \"x@demo.iam.gserviceaccount.com\"\n}}",
        rng.word("0123456789abcdef", 40)
    );
    cases.push(planted(
        "app/sa.json",
        "gcp-service-account",
        sa,
        2,
        String::new(),
    ));
    cases
}

#[test]
fn every_planted_secret_is_found_on_its_line_and_masked() {
    let cases = planted_cases();
    let ids: BTreeSet<&str> = Scanner::builtin().rules().iter().map(|r| r.id).collect();
    let planted: BTreeSet<&str> = cases.iter().map(|c| c.rule).collect();
    assert_eq!(ids, planted, "every rule has a planted case");
    for case in &cases {
        let found = scan(&case.path, &case.text);
        let hits: Vec<&Finding> = found.iter().filter(|f| f.rule_id == case.rule).collect();
        assert_eq!(
            hits.len(),
            1,
            "{} in {}: found {found:#?}\n{}",
            case.rule,
            case.path,
            case.text
        );
        assert_eq!(
            hits[0].line, case.line,
            "{} in {}: {found:#?}",
            case.rule, case.path
        );
        assert!(hits[0].redacted.contains("****"), "{:?}", hits[0]);
        if !case.secret.is_empty() {
            assert!(
                !hits[0].redacted.contains(&case.secret),
                "{} shown unmasked: {:?}",
                case.rule,
                hits[0]
            );
        }
        // Only the service-account file also holds a private key; nothing else fires.
        let others: Vec<&Finding> = found
            .iter()
            .filter(|f| {
                f.rule_id != case.rule
                    && !(case.rule == "gcp-service-account" && f.rule_id == "private-key")
            })
            .collect();
        assert!(
            others.is_empty(),
            "{} in {}: also {others:#?}",
            case.rule,
            case.path
        );
    }
}

#[test]
fn near_misses_of_every_rule_are_not_found() {
    let mut rng = Rng::new(0xface);
    let short_pem =
        "-----BEGIN RSA PRIVATE KEY-----\nMIIBOgIBAAJBAK\n-----END RSA PRIVATE KEY-----\n"
            .to_owned();
    let cases: Vec<(&str, &str, String)> = vec![
        ("aws-access-key-id", "docs/aws.txt", "key AKIAIOSFODNN7EXAMPLE (AWS's documentation key)".into()),
        ("aws-access-key-id", "a.txt", format!("id = AKIA{}", rng.word(UPPER32, 15))),
        ("aws-access-key-id", "a.txt", format!("blob: {}AKIA{}{}", rng.word(B64, 30), rng.word(UPPER32, 16), rng.word(B64, 30))),
        ("aws-access-key-id", "a.txt", format!("lower akia{}", rng.word("abcdefgh", 16))),
        ("aws-secret-access-key", "a.txt", "aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY".into()),
        ("aws-secret-access-key", "a.txt", format!("checksum = {}", rng.word(B64, 40))),
        ("aws-secret-access-key", "a.txt", format!("aws_secret_access_key = {}", rng.word(B64, 39))),
        ("github-pat", "a.txt", format!("ghp_{}", rng.word(ALNUM, 35))),
        ("github-pat", "a.txt", format!("xghp_{}", rng.word(ALNUM, 36))),
        ("gitlab-pat", "a.txt", format!("glpat-{}", rng.word(ALNUM, 19))),
        ("slack-token", "a.txt", "token = xoxb-not-a-real-token-here".into()),
        ("slack-webhook", "a.txt", "https://hooks.slack.com/services/XXXXXXXX/YYYYYYYY/ZZZZ".into()),
        ("google-api-key", "a.txt", format!("AIza{}", rng.word(URLSAFE, 30))),
        ("stripe-secret-key", "a.txt", format!("pk_live_{}", rng.word(ALNUM, 24))),
        ("stripe-secret-key", "a.txt", format!("sk_live_{}", rng.word(ALNUM, 10))),
        ("npm-token", "a.txt", format!("npm_{}", rng.word(ALNUM, 20))),
        ("npm-token", "a.txt", "npm_config_cache=/tmp/cache".into()),
        ("pypi-token", "a.txt", format!("pypi-{}", rng.word(URLSAFE, 80))),
        ("jwt", "a.txt", format!("eyJ{}.eyJ{}.{}", rng.word(URLSAFE, 20), rng.word(URLSAFE, 20), rng.word(URLSAFE, 20))),
        (
            "azure-storage-key",
            "a.txt",
            format!("DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey={}==;", rng.word(B64, 86)),
        ),
        ("azure-storage-key", "a.txt", format!("AccountKey={}", rng.word(B64, 40))),
        ("docker-config-auth", "app/config.json", format!("\"auth\": \"{}\"", STANDARD.encode("deploy:pw123456"))),
        ("docker-config-auth", "root/.docker/config.json", format!("\"auth\": \"{}\"", STANDARD.encode("no-colon-here"))),
        ("docker-config-auth", "root/.docker/config.json", "\"auth\": \"\"".into()),
        ("generic-password-in-url", "a.txt", "see https://user:password@example.com/".into()),
        ("generic-password-in-url", "a.txt", "DATABASE_URL=postgres://app:${DB_PASSWORD}@db/app".into()),
        ("generic-password-in-url", "a.txt", "ftp://anonymous:anonymous@ftp.debian.org".into()),
        ("generic-password-in-url", "a.txt", "https://example.com/a:b@c (no userinfo)".into()),
        ("generic-password-in-url", "a.txt", "mailto:someone@example.com and http://host:8080/".into()),
        ("generic-password-in-url", "a.txt", "\"http://jane:p%40ssw0rd@google.com\", // Go's url_test.go".into()),
        ("generic-password-in-url", "a.txt", "#  http://jschmoe:xyzzy@www.bogus.net:8000/ (too short)".into()),
        ("private-key", "a.py", "if line.startswith(\"-----BEGIN RSA PRIVATE KEY-----\"):\n    parse(line)\n".into()),
        ("private-key", "a.pem", short_pem),
        ("private-key", "a.pem", pem(&mut rng, "CERTIFICATE", &[], 6)),
        ("private-key", "a.pem", pem(&mut rng, "PUBLIC KEY", &[], 6)),
        ("private-key", "a.txt", "-----BEGIN PRIVATE KEY-----\nthis is prose, not base64 at all.\n-----END PRIVATE KEY-----\n".into()),
        ("gcp-service-account", "a.json", "{\n \"type\": \"service_account\",\n \"client_email\": \"x@y\"\n}\n".into()),
    ];
    for (rule, path, text) in &cases {
        let found = scan(path, text);
        assert!(
            found.is_empty(),
            "near miss of {rule} in {path} found: {found:#?}\n{text}"
        );
    }
}

#[test]
fn binary_files_are_skipped_and_huge_ones_not_wanted() {
    let mut rng = Rng::new(7);
    let key = format!("AKIA{}", rng.word(UPPER32, 16));
    let mut binary = b"\x7fELF\0\0\0".to_vec();
    binary.extend_from_slice(format!("\n{key}\n").as_bytes());
    let scanner = Scanner::builtin();
    assert!(
        scanner
            .scan(&meta("usr/bin/x", binary.len()), &mut &binary[..])
            .unwrap()
            .is_empty()
    );
    // The same key past the binary probe in a text file is found.
    let text = format!("{}\n{key}\n", "a".repeat(10_000));
    assert_eq!(scan("a.txt", &text).len(), 1);
    assert!(!scanner.wants(&meta("app/big.log", MAX_FILE as usize + 1)));
    assert!(!scanner.wants(&meta("app/empty", 0)));
    assert!(!scanner.wants(&meta("app/logo.PNG", 100)));
    for (path, reason) in [
        ("usr/share/doc/x/README", "usr-dirs"),
        ("usr/lib/python3/dist-packages/x.py", "usr-dirs"),
        ("app/vendor/x/y.go", "vendor"),
        ("app/locales/de.json", "locale-dir"),
        ("app/README.md", "markdown"),
        ("usr/local/go/src/crypto/tls/x.go", "golang"),
        ("usr/local/lib/python3.12/site-packages/x.py", "python"),
    ] {
        assert_eq!(scanner.skip_reason(&meta(path, 10)), Some(reason), "{path}");
    }
    for path in [
        "etc/ssl/private/k.key",
        "root/.aws/credentials",
        "app/tests/.env",
        "app/examples/x.env",
        "usr/local/bin/deploy",
    ] {
        assert!(scanner.wants(&meta(path, 10)), "{path} is read");
    }
}

/// A finding on this machine that is a real secret (or a real token), not a false
/// positive, and whether an image scan reads it at all.
struct Explained {
    path_prefix: &'static str,
    rule: &'static str,
    why: &'static str,
    /// Whether [`Scanner::wants`] reads the file in an image (`false`: Trivy's `usr-dirs`
    /// allow rule keeps it out, and this test checks it does).
    wanted: bool,
}

const EXPLAINED: &[Explained] = &[
    Explained {
        path_prefix: "/etc/ssl/private/",
        rule: "private-key",
        why: "ssl-cert's snakeoil key, generated at install time: a real private key",
        wanted: true,
    },
    Explained {
        path_prefix: "/etc/ssh/ssh_host_",
        rule: "private-key",
        why: "openssh-server's host keys, generated at install time",
        wanted: true,
    },
    Explained {
        path_prefix: "/usr/share/doc/libxmlsec1-dev/examples/",
        rule: "private-key",
        why: "xmlsec's example keys: real RSA/EC keys, published",
        wanted: false,
    },
    Explained {
        path_prefix: "/usr/share/go-1.19/src/crypto/tls/",
        rule: "private-key",
        why: "Go's crypto/tls test and example keys (testdata/, example_test.go): real keys, published",
        wanted: false,
    },
    Explained {
        path_prefix: "/usr/share/doc/python3-jwt/README.rst",
        rule: "jwt",
        why: "PyJWT's README shows a real token signed with the key \"secret\"",
        wanted: false,
    },
];

fn regular_files(root: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(root) else {
        return;
    };
    for entry in entries.flatten() {
        let Ok(kind) = entry.file_type() else {
            continue;
        };
        if kind.is_dir() {
            regular_files(&entry.path(), out);
        } else if kind.is_file() {
            out.push(entry.path());
        }
    }
}

#[test]
fn no_false_positives_in_this_debian_machines_etc_usr_share_and_dpkg_database() {
    let scanner = Scanner::builtin();
    let mut files = Vec::new();
    for root in ["/etc", "/usr/share", "/var/lib/dpkg"] {
        regular_files(Path::new(root), &mut files);
    }
    assert!(
        files.len() > 1000,
        "only {} files under /etc, /usr/share, /var/lib/dpkg",
        files.len()
    );
    let start = Instant::now();
    let (mut read, mut bytes) = (0usize, 0u64);
    let mut unexplained = Vec::new();
    let mut explained = Vec::new();
    for path in &files {
        let Ok(mut file) = std::fs::File::open(path) else {
            continue;
        };
        let size = file.metadata().map(|m| m.len()).unwrap_or(0);
        let rel = path.to_string_lossy().trim_start_matches('/').to_owned();
        // Every file is scanned, including those `wants` skips (usr/share): the rules
        // themselves must hold on documentation and test data.
        let found = scanner
            .scan(&meta(&rel, size as usize), &mut file)
            .expect("reading a local file");
        read += 1;
        bytes += size.min(MAX_FILE);
        for f in found {
            let abs = path.to_string_lossy().into_owned();
            match EXPLAINED
                .iter()
                .find(|e| abs.starts_with(e.path_prefix) && e.rule == f.rule_id)
            {
                Some(e) => {
                    let wanted = scanner.wants(&meta(&rel, size as usize));
                    assert_eq!(wanted, e.wanted, "{abs}: read by an image scan: {wanted}");
                    explained.push(format!("{abs}:{} {} ({})", f.line, f.rule_id, e.why));
                }
                None => unexplained.push(format!("{abs}:{} {} {}", f.line, f.rule_id, f.redacted)),
            }
        }
    }
    let elapsed = start.elapsed();
    eprintln!(
        "scanned {read} files, {} MiB in {elapsed:?}; explained: {explained:#?}",
        bytes >> 20
    );
    assert!(
        unexplained.is_empty(),
        "false positives:\n{}",
        unexplained.join("\n")
    );
    assert!(
        elapsed < Duration::from_secs(600),
        "the scan took {elapsed:?}"
    );
}

/// detect-secrets' finding types, and which of our rules find the same thing.
const DETECT_SECRETS_TYPES: &[(&str, &[&str])] = &[
    (
        "AWS Access Key",
        &["aws-access-key-id", "aws-secret-access-key"],
    ),
    ("Private Key", &["private-key"]),
    ("GitHub Token", &["github-pat"]),
    ("GitLab Token", &["gitlab-pat"]),
    ("Slack Token", &["slack-token", "slack-webhook"]),
    ("Stripe Access Key", &["stripe-secret-key"]),
    ("NPM tokens", &["npm-token"]),
    ("PyPI upload token", &["pypi-token"]),
    ("JSON Web Token", &["jwt"]),
    ("Azure Storage Account access key", &["azure-storage-key"]),
    ("Basic Auth Credentials", &["generic-password-in-url"]),
];

/// detect-secrets, run with only its rule-based plugins (no entropy or keyword guesses,
/// which have no counterpart here) over `dir`: its findings as (path relative to `dir`,
/// line, type).
fn detect_secrets(dir: &Path) -> Vec<(String, usize, String)> {
    let tool = Path::new("/var/cache/strata-peers/pyenv/bin/detect-secrets");
    assert!(
        tool.exists(),
        "{} is missing: run scripts/install-peers.sh (install_detect_secrets)",
        tool.display()
    );
    let out = Command::new(tool)
        .args([
            "scan",
            "--all-files",
            "--disable-plugin",
            "Base64HighEntropyString",
        ])
        .args([
            "--disable-plugin",
            "HexHighEntropyString",
            "--disable-plugin",
            "KeywordDetector",
            ".",
        ])
        .current_dir(dir)
        .output()
        .expect("detect-secrets runs");
    assert!(
        out.status.success(),
        "detect-secrets: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: serde_json::Value =
        serde_json::from_slice(&out.stdout).expect("detect-secrets prints JSON");
    let mut hits = Vec::new();
    for (file, found) in report["results"].as_object().expect("results object") {
        for hit in found.as_array().unwrap() {
            hits.push((
                file.trim_start_matches("./").to_owned(),
                hit["line_number"].as_u64().unwrap() as usize,
                hit["type"].as_str().unwrap().to_owned(),
            ));
        }
    }
    hits
}

/// Our findings, as (path, line, rule id).
type Ours = BTreeSet<(String, usize, String)>;

/// The detect-secrets findings of kinds we have rules for that we did not find at the
/// same file and line, and how many were compared.
fn missed_by_us(theirs: &[(String, usize, String)], ours: &Ours) -> (usize, Vec<String>) {
    let mut compared = 0;
    let mut missed = Vec::new();
    for (path, line, kind) in theirs {
        let Some((_, rules)) = DETECT_SECRETS_TYPES.iter().find(|(t, _)| t == kind) else {
            continue;
        };
        compared += 1;
        // detect-secrets reports a PEM key on its BEGIN line like we do.
        if !ours
            .iter()
            .any(|(p, l, r)| p == path && l == line && rules.contains(&r.as_str()))
        {
            missed.push(format!("{path}:{line} {kind}"));
        }
    }
    (compared, missed)
}

#[test]
fn every_secret_detect_secrets_finds_in_the_planted_files_is_found() {
    let dir = tempfile::tempdir().unwrap();
    let mut ours = Ours::new();
    for (i, case) in planted_cases().iter().enumerate() {
        // One file per case, keeping the case's file name (the docker rule reads the path).
        let rel = format!("case{i}/{}", case.path);
        let file = dir.path().join(&rel);
        std::fs::create_dir_all(file.parent().unwrap()).unwrap();
        std::fs::write(&file, &case.text).unwrap();
        for f in scan(&rel, &case.text) {
            ours.insert((rel.clone(), f.line, f.rule_id));
        }
    }
    let (compared, missed) = missed_by_us(&detect_secrets(dir.path()), &ours);
    assert!(
        compared >= 15,
        "detect-secrets found only {compared} comparable secrets"
    );
    assert!(
        missed.is_empty(),
        "detect-secrets finds what we miss:\n{}",
        missed.join("\n")
    );
}

#[test]
fn every_secret_detect_secrets_finds_in_this_machines_etc_is_found() {
    let scanner = Scanner::builtin();
    let mut files = Vec::new();
    regular_files(Path::new("/etc"), &mut files);
    let mut ours = Ours::new();
    for path in files {
        let Ok(mut file) = std::fs::File::open(&path) else {
            continue;
        };
        let size = file.metadata().map(|m| m.len()).unwrap_or(0);
        let rel = path
            .strip_prefix("/etc")
            .unwrap()
            .to_string_lossy()
            .into_owned();
        for f in scanner
            .scan(&meta(&rel, size as usize), &mut file)
            .expect("reading a local file")
        {
            ours.insert((rel.clone(), f.line, f.rule_id));
        }
    }
    let (compared, missed) = missed_by_us(&detect_secrets(Path::new("/etc")), &ours);
    eprintln!("compared {compared} detect-secrets findings in /etc");
    assert!(
        missed.is_empty(),
        "detect-secrets finds in /etc what we miss:\n{}",
        missed.join("\n")
    );
}

#[test]
fn reading_stops_at_the_file_bound() {
    use std::io::Read;
    let mut rng = Rng::new(11);
    let key = format!("\nAKIA{}\n", rng.word(UPPER32, 16));
    let scanner = Scanner::builtin();
    // Lines of filler up to just under the bound, then the key: found.
    let filler = || {
        std::io::repeat(b'a')
            .take(MAX_FILE - 4096)
            .chain(&b"\n"[..])
    };
    let mut before = filler().chain(key.as_bytes());
    assert_eq!(
        scanner.scan(&meta("a.txt", 0), &mut before).unwrap().len(),
        1
    );
    // The same key past the bound is never read (nor is anything after it).
    let mut past = filler()
        .chain(std::io::repeat(b'\n').take(8192))
        .chain(key.as_bytes());
    assert!(
        scanner
            .scan(&meta("a.txt", 0), &mut past)
            .unwrap()
            .is_empty()
    );
}
