//! A minimal registry (HTTP/1.1, read-only) that serves test content and can misbehave:
//! serve wrong bytes for a blob, or trickle a blob slowly so a client can be killed
//! mid-transfer. It logs every request so tests can see Range requests.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

use super::images::{TestImage, sha256};

/// How the fake registry misbehaves.
#[derive(Clone, Default)]
pub struct Faults {
    /// Serve these bytes instead of the real ones for a blob (same or other length).
    pub corrupt: HashMap<String, Vec<u8>>,
    /// Serve these blobs at about this many bytes per second.
    pub slow: HashMap<String, usize>,
}

/// One logged request.
#[derive(Clone, Debug)]
pub struct Request {
    /// HTTP method.
    pub method: String,
    /// Path and query.
    pub path: String,
    /// The Range header, if any.
    pub range: Option<String>,
}

struct State {
    manifests: HashMap<String, (String, Vec<u8>)>,
    blobs: HashMap<String, Vec<u8>>,
    faults: Mutex<Faults>,
    log: Mutex<Vec<Request>>,
}

/// A running fake registry; stops its accept loop when dropped.
pub struct FakeRegistry {
    /// `127.0.0.1:PORT`.
    pub host: String,
    state: Arc<State>,
    stop: Arc<AtomicBool>,
}

impl FakeRegistry {
    /// Serves `image` as `repo:tag` (and by digest).
    pub fn start(repo: &str, tag: &str, image: &TestImage, faults: Faults) -> FakeRegistry {
        let mut manifests = HashMap::new();
        let mt = "application/vnd.oci.image.manifest.v1+json".to_string();
        manifests.insert(
            format!("{repo}:{tag}"),
            (mt.clone(), image.manifest.clone()),
        );
        manifests.insert(
            format!("{repo}:{}", image.digest()),
            (mt, image.manifest.clone()),
        );
        let mut blobs = HashMap::new();
        for b in image.layers.iter().chain(std::iter::once(&image.config)) {
            blobs.insert(sha256(b), b.clone());
        }
        let state = Arc::new(State {
            manifests,
            blobs,
            faults: Mutex::new(faults),
            log: Mutex::new(Vec::new()),
        });
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let host = listener.local_addr().unwrap().to_string();
        let stop = Arc::new(AtomicBool::new(false));
        let (st, sp) = (state.clone(), stop.clone());
        thread::spawn(move || {
            while !sp.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((conn, _)) => {
                        let st = st.clone();
                        let sp = sp.clone();
                        thread::spawn(move || {
                            let _ = serve(conn, &st, &sp);
                        });
                    }
                    Err(_) => thread::sleep(Duration::from_millis(10)),
                }
            }
        });
        FakeRegistry { host, state, stop }
    }

    /// The requests seen so far.
    pub fn requests(&self) -> Vec<Request> {
        self.state.log.lock().unwrap().clone()
    }

    /// Replaces the faults (e.g. stop being slow).
    pub fn set_faults(&self, f: Faults) {
        *self.state.faults.lock().unwrap() = f;
    }
}

impl Drop for FakeRegistry {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

fn serve(conn: TcpStream, st: &State, stop: &AtomicBool) -> std::io::Result<()> {
    conn.set_read_timeout(Some(Duration::from_secs(30)))?;
    let mut reader = BufReader::new(conn.try_clone()?);
    let mut out = conn;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 || stop.load(Ordering::Relaxed) {
            return Ok(());
        }
        let mut parts = line.split_whitespace();
        let method = parts.next().unwrap_or("").to_string();
        let path = parts.next().unwrap_or("").to_string();
        let mut range = None;
        let mut content_length = 0usize;
        loop {
            let mut h = String::new();
            reader.read_line(&mut h)?;
            let h = h.trim_end();
            if h.is_empty() {
                break;
            }
            if let Some((k, v)) = h.split_once(':') {
                match k.to_ascii_lowercase().as_str() {
                    "range" => range = Some(v.trim().to_string()),
                    "content-length" => content_length = v.trim().parse().unwrap_or(0),
                    _ => {}
                }
            }
        }
        let mut body = vec![0; content_length];
        reader.read_exact(&mut body)?;
        st.log.lock().unwrap().push(Request {
            method: method.clone(),
            path: path.clone(),
            range: range.clone(),
        });
        let head = method == "HEAD";
        if path == "/v2/" || path == "/v2" {
            respond(
                &mut out,
                200,
                &[("Content-Type", "application/json")],
                b"{}",
                head,
            )?;
            continue;
        }
        let Some(rest) = path.strip_prefix("/v2/") else {
            respond(&mut out, 404, &[], b"", head)?;
            continue;
        };
        if let Some((repo, reference)) = rest.rsplit_once("/manifests/") {
            match st.manifests.get(&format!("{repo}:{reference}")) {
                Some((mt, bytes)) => {
                    let d = sha256(bytes);
                    respond(
                        &mut out,
                        200,
                        &[("Content-Type", mt), ("Docker-Content-Digest", &d)],
                        bytes,
                        head,
                    )?;
                }
                None => respond(
                    &mut out,
                    404,
                    &[("Content-Type", "application/json")],
                    br#"{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown"}]}"#,
                    head,
                )?,
            }
            continue;
        }
        if let Some((_, digest)) = rest.rsplit_once("/blobs/") {
            let Some(real) = st.blobs.get(digest) else {
                respond(
                    &mut out,
                    404,
                    &[("Content-Type", "application/json")],
                    br#"{"errors":[{"code":"BLOB_UNKNOWN","message":"blob unknown"}]}"#,
                    head,
                )?;
                continue;
            };
            let faults = st.faults.lock().unwrap().clone();
            let data = faults.corrupt.get(digest).unwrap_or(real);
            let start = range
                .as_deref()
                .and_then(|r| r.strip_prefix("bytes="))
                .and_then(|r| r.split('-').next())
                .and_then(|s| s.parse::<usize>().ok())
                .unwrap_or(0)
                .min(data.len());
            let part = &data[start..];
            let len = part.len().to_string();
            let cr = format!(
                "bytes {}-{}/{}",
                start,
                data.len().saturating_sub(1),
                data.len()
            );
            let mut headers = vec![
                ("Content-Length", len.as_str()),
                ("Docker-Content-Digest", digest),
                ("Content-Type", "application/octet-stream"),
            ];
            let status = if start > 0 {
                headers.push(("Content-Range", &cr));
                206
            } else {
                200
            };
            write!(out, "HTTP/1.1 {status} X\r\n")?;
            for (k, v) in &headers {
                write!(out, "{k}: {v}\r\n")?;
            }
            write!(out, "\r\n")?;
            if head {
                continue;
            }
            match faults.slow.get(digest) {
                Some(&rate) => {
                    let chunk = (rate / 20).max(1);
                    for c in part.chunks(chunk) {
                        if stop.load(Ordering::Relaxed) {
                            return Ok(());
                        }
                        out.write_all(c)?;
                        out.flush()?;
                        thread::sleep(Duration::from_millis(50));
                    }
                }
                None => out.write_all(part)?,
            }
            continue;
        }
        respond(&mut out, 404, &[], b"", head)?;
    }
}

fn respond(
    out: &mut TcpStream,
    status: u16,
    headers: &[(&str, &str)],
    body: &[u8],
    head: bool,
) -> std::io::Result<()> {
    write!(
        out,
        "HTTP/1.1 {status} X\r\nContent-Length: {}\r\n",
        body.len()
    )?;
    for (k, v) in headers {
        write!(out, "{k}: {v}\r\n")?;
    }
    write!(out, "\r\n")?;
    if !head {
        out.write_all(body)?;
    }
    out.flush()
}
