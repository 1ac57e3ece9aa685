//! `RegistryClient::referrers` against a scripted loopback registry: a 404 means no
//! referrers API (`None`), a listing that ignores the `artifactType` filter is filtered
//! here, and `Link` pages are followed and merged.

use std::io::{BufRead as _, BufReader, Write as _};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use oci::Digest;
use transport::{RegistryClient, RegistryOptions};

const BUNDLE: &str = "application/vnd.dev.sigstore.bundle.v0.3+json";

/// Serves `answer(path)` (status, body, extra headers) over plain HTTP/1.1 on a loopback
/// port until the test ends; records every request path. Connections that are not HTTP
/// (the client's HTTPS probe) are dropped.
fn serve(
    answer: impl Fn(&str) -> (u16, String, Vec<(String, String)>) + Send + 'static,
) -> (String, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let host = listener.local_addr().unwrap().to_string();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    std::thread::spawn(move || {
        // Bounded: a test makes a handful of requests.
        for conn in listener.incoming().take(50) {
            let Ok(mut conn) = conn else { continue };
            conn.set_read_timeout(Some(Duration::from_secs(10)))
                .unwrap();
            let mut reader = BufReader::new(conn.try_clone().unwrap());
            let mut line = String::new();
            if reader.read_line(&mut line).is_err() || !line.contains(" HTTP/1.") {
                continue;
            }
            // Skip the headers.
            loop {
                let mut h = String::new();
                if reader.read_line(&mut h).unwrap_or(0) == 0 || h == "\r\n" {
                    break;
                }
            }
            let path = line.split(' ').nth(1).unwrap_or("").to_string();
            log.lock().unwrap().push(path.clone());
            let (status, body, headers) = answer(&path);
            let mut head = format!(
                "HTTP/1.1 {status} X\r\nContent-Length: {}\r\nContent-Type: application/vnd.oci.image.index.v1+json\r\nConnection: close\r\n",
                body.len()
            );
            for (k, v) in headers {
                head.push_str(&format!("{k}: {v}\r\n"));
            }
            let _ = conn.write_all(format!("{head}\r\n{body}").as_bytes());
        }
    });
    (host, seen)
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

fn subject() -> Digest {
    Digest::sha256_of(b"an image manifest")
}

fn entry(n: u8, artifact_type: &str) -> String {
    format!(
        r#"{{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"{}","size":1,"artifactType":"{artifact_type}"}}"#,
        Digest::sha256_of(&[n])
    )
}

fn index(entries: &[String]) -> String {
    format!(
        r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[{}]}}"#,
        entries.join(",")
    )
}

#[test]
fn no_referrers_api_is_none() {
    let (host, seen) = serve(|path| {
        if path == "/v2/" {
            (200, "{}".into(), vec![])
        } else {
            (404, "404 page not found\n".into(), vec![])
        }
    });
    let client = RegistryClient::new(&host, RegistryOptions::default()).unwrap();
    let got = runtime()
        .block_on(client.referrers("app", &subject(), Some(BUNDLE)))
        .unwrap();
    assert!(got.is_none(), "{got:?}");
    let want = format!(
        "/v2/app/referrers/{}?artifactType={}",
        subject(),
        BUNDLE.replace('/', "%2F").replace('+', "%2B")
    );
    assert!(
        seen.lock().unwrap().contains(&want),
        "{:?}",
        seen.lock().unwrap()
    );
}

#[test]
fn pages_are_merged_and_unfiltered_listings_filtered() {
    let d = subject();
    let first = format!("/v2/app/referrers/{d}");
    let (host, seen) = serve(move |path| {
        if path == "/v2/" {
            (200, "{}".into(), vec![])
        } else if path.starts_with(&first) && !path.contains("page=2") {
            // Ignores the filter: an SBOM comes along.
            let link = format!("<{first}?page=2>; rel=\"next\"");
            (
                200,
                index(&[entry(1, BUNDLE), entry(2, "application/spdx+json")]),
                vec![("Link".into(), link)],
            )
        } else if path.contains("page=2") {
            (200, index(&[entry(3, BUNDLE)]), vec![])
        } else {
            (404, String::new(), vec![])
        }
    });
    let client = RegistryClient::new(&host, RegistryOptions::default()).unwrap();
    let got = runtime()
        .block_on(client.referrers("app", &d, Some(BUNDLE)))
        .unwrap()
        .expect("the registry has the API");
    let digests: Vec<Digest> = got.manifests.iter().map(|m| m.digest.clone()).collect();
    assert_eq!(digests, [Digest::sha256_of(&[1]), Digest::sha256_of(&[3])]);
    assert!(
        seen.lock().unwrap().iter().any(|p| p.contains("page=2")),
        "{:?}",
        seen.lock().unwrap()
    );
    // Without a filter, everything listed comes back.
    let all = runtime()
        .block_on(client.referrers("app", &d, None))
        .unwrap()
        .unwrap();
    assert_eq!(all.manifests.len(), 3);
}
