//! A fault-injecting registry (HTTP/1.1 on 127.0.0.1, plain std threads) for the fault
//! suites: it serves manifests and blobs it is given, accepts pushes, and misbehaves on the
//! requests a [`Rule`] matches — stalls before its headers or in the middle of a body, sends
//! an endless body, lies about lengths, answers an error status, or redirects in a loop.
//! Every stall is bounded (it ends when the registry is dropped, or after a minute) so a
//! test that fails never leaves a thread behind for long.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use super::images::sha256;

/// The longest any stall or endless body lasts.
const MAX_STALL: Duration = Duration::from_secs(60);

/// What a matched request gets instead of a normal answer.
#[derive(Clone, Debug)]
pub enum Fault {
    /// Read the request, never answer.
    StallBeforeHeaders,
    /// Send the headers (true length) and this many body bytes, then nothing.
    StallMidBody(usize),
    /// Send headers without a length, then zeros until the client goes away.
    EndlessBody,
    /// Declare this `Content-Length`, send the true body, close the connection.
    LyingLength(usize),
    /// Answer with this status and a JSON error body.
    Status(u16),
    /// Answer 307 to the same URL, for ever.
    RedirectLoop,
    /// Serve these bytes as the body (true length) instead of the real ones.
    Body(Vec<u8>),
    /// Answer 401 with a bearer challenge whose realm is this path on the registry.
    Challenge(&'static str),
}

/// A fault for requests whose method is `method` (`"*"`: any) and whose path contains
/// `path` (or, when `path` starts with `=`, is exactly the rest).
#[derive(Clone, Debug)]
pub struct Rule {
    /// HTTP method, or `*`.
    pub method: &'static str,
    /// A substring of the path.
    pub path: String,
    /// What to do.
    pub fault: Fault,
}

impl Rule {
    /// A rule for `method` requests whose path contains `path`.
    pub fn new(method: &'static str, path: impl Into<String>, fault: Fault) -> Rule {
        Rule {
            method,
            path: path.into(),
            fault,
        }
    }
}

struct State {
    /// `repo:reference` → (media type, bytes).
    manifests: Mutex<HashMap<String, (String, Vec<u8>)>>,
    /// digest → bytes (shared by all repositories).
    blobs: Mutex<HashMap<String, Vec<u8>>>,
    rules: Mutex<Vec<Rule>>,
    /// `METHOD path` of every request, in order.
    log: Mutex<Vec<String>>,
    uploads: AtomicUsize,
    stop: AtomicBool,
}

/// A running fault registry; stops (and ends its stalls) when dropped.
pub struct FaultRegistry {
    /// `127.0.0.1:PORT`.
    pub host: String,
    state: Arc<State>,
}

impl FaultRegistry {
    /// An empty registry that answers `/v2/` and accepts pushes.
    pub fn start() -> FaultRegistry {
        let state = Arc::new(State {
            manifests: Mutex::new(HashMap::new()),
            blobs: Mutex::new(HashMap::new()),
            rules: Mutex::new(Vec::new()),
            log: Mutex::new(Vec::new()),
            uploads: AtomicUsize::new(0),
            stop: AtomicBool::new(false),
        });
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let host = listener.local_addr().unwrap().to_string();
        let st = state.clone();
        thread::spawn(move || {
            while !st.stop.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((conn, _)) => {
                        let st = st.clone();
                        thread::spawn(move || {
                            let _ = serve(conn, &st);
                        });
                    }
                    Err(_) => thread::sleep(Duration::from_millis(10)),
                }
            }
        });
        FaultRegistry { host, state }
    }

    /// Serves `bytes` as manifest `repo:reference` (a tag, or a digest).
    pub fn manifest(&self, repo: &str, reference: &str, media_type: &str, bytes: &[u8]) {
        self.state.manifests.lock().unwrap().insert(
            format!("{repo}:{reference}"),
            (media_type.to_string(), bytes.to_vec()),
        );
    }

    /// Serves `bytes` as a blob, under their digest.
    pub fn blob(&self, bytes: &[u8]) {
        self.state
            .blobs
            .lock()
            .unwrap()
            .insert(sha256(bytes), bytes.to_vec());
    }

    /// Serves an image (manifest at `repo:tag` and by digest, its config and layers).
    pub fn image(&self, repo: &str, tag: &str, img: &super::images::TestImage) {
        let mt = "application/vnd.oci.image.manifest.v1+json";
        self.manifest(repo, tag, mt, &img.manifest);
        self.manifest(repo, &img.digest(), mt, &img.manifest);
        self.blob(&img.config);
        for l in &img.layers {
            self.blob(l);
        }
    }

    /// Adds a fault rule (the first matching rule wins).
    pub fn rule(&self, rule: Rule) {
        self.state.rules.lock().unwrap().push(rule);
    }

    /// Removes every fault rule: the registry behaves from now on.
    pub fn clear_rules(&self) {
        self.state.rules.lock().unwrap().clear();
    }

    /// `METHOD path` of the requests seen so far.
    pub fn requests(&self) -> Vec<String> {
        self.state.log.lock().unwrap().clone()
    }
}

impl Drop for FaultRegistry {
    fn drop(&mut self) {
        self.state.stop.store(true, Ordering::Relaxed);
    }
}

/// Sleeps until the registry stops or [`MAX_STALL`] passes.
fn stall(st: &State) {
    let until = Instant::now() + MAX_STALL;
    while Instant::now() < until && !st.stop.load(Ordering::Relaxed) {
        thread::sleep(Duration::from_millis(20));
    }
}

fn serve(conn: TcpStream, st: &State) -> std::io::Result<()> {
    conn.set_read_timeout(Some(MAX_STALL))?;
    let mut reader = BufReader::new(conn.try_clone()?);
    let mut out = conn;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 || st.stop.load(Ordering::Relaxed) {
            return Ok(());
        }
        let mut parts = line.split_whitespace();
        let method = parts.next().unwrap_or("").to_string();
        let path = parts.next().unwrap_or("").to_string();
        let mut content_length = 0usize;
        loop {
            let mut h = String::new();
            reader.read_line(&mut h)?;
            let h = h.trim_end();
            if h.is_empty() {
                break;
            }
            if let Some((k, v)) = h.split_once(':')
                && k.eq_ignore_ascii_case("content-length")
            {
                content_length = v.trim().parse().unwrap_or(0);
            }
        }
        st.log.lock().unwrap().push(format!("{method} {path}"));
        let rule = st
            .rules
            .lock()
            .unwrap()
            .iter()
            .find(|r| {
                let on_path = match r.path.strip_prefix('=') {
                    Some(exact) => path == exact,
                    None => path.contains(&r.path),
                };
                (r.method == "*" || r.method == method) && on_path
            })
            .cloned();
        // A stalled upload must not read its body: the client then sees nobody reading.
        if let Some(Rule {
            fault: Fault::StallBeforeHeaders,
            ..
        }) = rule
        {
            stall(st);
            return Ok(());
        }
        let mut body = vec![0; content_length];
        reader.read_exact(&mut body)?;
        let head = method == "HEAD";
        let (status, ctype, data) = answer(st, &method, &path, body);
        let fault = rule.map(|r| r.fault);
        match fault {
            None => respond(&mut out, status, &ctype, &data, head)?,
            Some(Fault::Body(b)) => respond(&mut out, 200, &ctype, &b, head)?,
            Some(Fault::Status(code)) => {
                let body =
                    format!(r#"{{"errors":[{{"code":"UNKNOWN","message":"fault {code}"}}]}}"#);
                respond(&mut out, code, "application/json", body.as_bytes(), head)?
            }
            Some(Fault::Challenge(realm)) => {
                let host = out.local_addr()?;
                write!(
                    out,
                    "HTTP/1.1 401 X\r\nWWW-Authenticate: Bearer realm=\"http://{host}{realm}\",service=\"fault\"\r\nContent-Length: 0\r\n\r\n"
                )?;
                out.flush()?;
            }
            Some(Fault::RedirectLoop) => {
                write!(
                    out,
                    "HTTP/1.1 307 X\r\nLocation: {path}\r\nContent-Length: 0\r\n\r\n"
                )?;
                out.flush()?;
            }
            Some(Fault::StallMidBody(n)) => {
                head_only(&mut out, status, &ctype, Some(data.len()))?;
                out.write_all(&data[..n.min(data.len())])?;
                out.flush()?;
                stall(st);
                return Ok(());
            }
            Some(Fault::LyingLength(len)) => {
                head_only(&mut out, status, &ctype, Some(len))?;
                out.write_all(&data)?;
                out.flush()?;
                return Ok(());
            }
            Some(Fault::EndlessBody) => {
                write!(
                    out,
                    "HTTP/1.1 200 X\r\nContent-Type: {ctype}\r\nConnection: close\r\n\r\n"
                )?;
                let zeros = vec![0u8; 64 * 1024];
                let until = Instant::now() + MAX_STALL;
                while Instant::now() < until && !st.stop.load(Ordering::Relaxed) {
                    out.write_all(&zeros)?;
                }
                return Ok(());
            }
            Some(Fault::StallBeforeHeaders) => unreachable!("handled above"),
        }
    }
}

/// The normal answer to a request: (status, content type, body).
fn answer(st: &State, method: &str, path: &str, body: Vec<u8>) -> (u16, String, Vec<u8>) {
    let json = "application/json".to_string();
    let unknown = |code: &str| {
        format!(r#"{{"errors":[{{"code":"{code}","message":"unknown"}}]}}"#).into_bytes()
    };
    let path_only = path.split('?').next().unwrap_or(path);
    let Some(rest) = path_only.strip_prefix("/v2/") else {
        return (404, json, Vec::new());
    };
    if rest.is_empty() {
        return (200, json, b"{}".to_vec());
    }
    if let Some((repo, reference)) = rest.rsplit_once("/manifests/") {
        let key = format!("{repo}:{reference}");
        if method == "PUT" {
            let d = sha256(&body);
            let mut m = st.manifests.lock().unwrap();
            m.insert(key, (json.clone(), body.clone()));
            m.insert(format!("{repo}:{d}"), (json.clone(), body));
            return (201, json, Vec::new());
        }
        return match st.manifests.lock().unwrap().get(&key) {
            Some((mt, bytes)) => (200, mt.clone(), bytes.clone()),
            None => (404, json, unknown("MANIFEST_UNKNOWN")),
        };
    }
    if rest.contains("/blobs/uploads") {
        if method == "POST" {
            let n = st.uploads.fetch_add(1, Ordering::Relaxed);
            let repo = rest.split("/blobs/uploads").next().unwrap_or("");
            return (202, format!("/v2/{repo}/blobs/uploads/u{n}"), Vec::new());
        }
        // PUT …/uploads/uN?digest=…
        let digest = path
            .split("digest=")
            .nth(1)
            .map(|d| d.split('&').next().unwrap_or(d).replace("%3A", ":"))
            .unwrap_or_default();
        if sha256(&body) != digest {
            return (400, json, unknown("DIGEST_INVALID"));
        }
        st.blobs.lock().unwrap().insert(digest, body);
        return (201, json, Vec::new());
    }
    if let Some((_, digest)) = rest.rsplit_once("/blobs/") {
        return match st.blobs.lock().unwrap().get(digest) {
            Some(b) => (200, "application/octet-stream".into(), b.clone()),
            None => (404, json, unknown("BLOB_UNKNOWN")),
        };
    }
    (404, json, Vec::new())
}

/// Writes a status line and headers. For 202 the "content type" is the upload `Location`.
fn head_only(
    out: &mut TcpStream,
    status: u16,
    ctype: &str,
    len: Option<usize>,
) -> std::io::Result<()> {
    write!(out, "HTTP/1.1 {status} X\r\n")?;
    if let Some(len) = len {
        write!(out, "Content-Length: {len}\r\n")?;
    }
    if status == 202 {
        write!(out, "Location: {ctype}\r\n")?;
    } else {
        write!(out, "Content-Type: {ctype}\r\n")?;
    }
    write!(out, "\r\n")
}

fn respond(
    out: &mut TcpStream,
    status: u16,
    ctype: &str,
    body: &[u8],
    head: bool,
) -> std::io::Result<()> {
    head_only(out, status, ctype, Some(body.len()))?;
    if !head {
        out.write_all(body)?;
    }
    out.flush()
}
