//! The event journal (`strata events`): with no daemon to hold Docker's in-memory event
//! ring, every strata process appends the events it causes to `<store>/events.log`, one
//! JSON line per event in Docker's event message format, and `events` reads (and follows)
//! that file.
//!
//! Each event is one `write(2)` on a file opened with `O_APPEND`, so lines from concurrent
//! processes never interleave. The journal is bounded: once it grows past
//! [`MAX_BYTES`] the appender that notices rewrites it with its newest [`KEEP`] events
//! (Docker keeps its last 1000+), under an exclusive lock that appenders share, so no
//! append lands in the file being replaced.
//!
//! Recording is best effort: an event that cannot be written never fails the operation
//! it describes (Docker's daemon does not fail a `start` for its event log either).
//!
//! Other crates record through [`record`] (or [`Event::new`] + [`append`]). Networks, for
//! instance:
//!
//! ```no_run
//! use std::collections::BTreeMap;
//! let attrs = BTreeMap::from([("name".to_string(), "net1".to_string()),
//!                             ("type".to_string(), "bridge".to_string())]);
//! store::events::record("/var/lib/strata".as_ref(), "network", "create", "<network id>", attrs);
//! // connect/disconnect carry the container: ("container", "<container id>").
//! ```

use std::collections::BTreeMap;
use std::fs::{self, File, OpenOptions};
use std::io::{self, BufRead, BufReader, Read, Seek, SeekFrom, Write};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// Past this size the journal is trimmed to its newest [`KEEP`] events.
pub const MAX_BYTES: u64 = 4 << 20;

/// How many events a trim keeps (Docker's ring keeps 1024).
pub const KEEP: usize = 4096;

/// Who an event is about: Docker's `Actor`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Actor {
    /// The object's ID (container ID, image ID or reference, volume or network name/ID).
    #[serde(rename = "ID")]
    pub id: String,
    /// Its attributes (`name`, `image`, labels, `exitCode`, `signal`, ...).
    #[serde(rename = "Attributes", default)]
    pub attributes: BTreeMap<String, String>,
}

/// One event, in Docker's event message JSON (what `events --format '{{json .}}'` prints).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    /// Legacy: the action, for container and image events.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub status: String,
    /// Legacy: the actor's ID, for container and image events.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub id: String,
    /// Legacy: a container event's image.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub from: String,
    /// `container`, `image`, `volume`, `network`.
    #[serde(rename = "Type")]
    pub kind: String,
    /// `create`, `start`, `die`, ...
    #[serde(rename = "Action")]
    pub action: String,
    /// The object.
    #[serde(rename = "Actor")]
    pub actor: Actor,
    /// Always `local`.
    pub scope: String,
    /// Seconds since the epoch.
    pub time: i64,
    /// Nanoseconds since the epoch.
    #[serde(rename = "timeNano")]
    pub time_nano: i64,
}

impl Event {
    /// An event happening now, with Docker's legacy fields filled as its daemon does
    /// (`status`/`id`/`from` for container and image events only).
    pub fn new(kind: &str, action: &str, id: &str, attributes: BTreeMap<String, String>) -> Event {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as i64)
            .unwrap_or(0);
        Event::at(kind, action, id, attributes, nanos)
    }

    /// [`Event::new`] at `time_nano`.
    pub fn at(
        kind: &str,
        action: &str,
        id: &str,
        attributes: BTreeMap<String, String>,
        time_nano: i64,
    ) -> Event {
        let legacy = matches!(kind, "container" | "image");
        Event {
            status: if legacy { action.into() } else { String::new() },
            id: if legacy { id.into() } else { String::new() },
            from: if kind == "container" {
                attributes.get("image").cloned().unwrap_or_default()
            } else {
                String::new()
            },
            kind: kind.into(),
            action: action.into(),
            actor: Actor {
                id: id.into(),
                attributes,
            },
            scope: "local".into(),
            time: time_nano.div_euclid(1_000_000_000),
            time_nano,
        }
    }

    /// Docker's default line: `TIME TYPE ACTION ID (k=v, ...)`, the time in UTC with
    /// nine fraction digits, the attributes sorted.
    pub fn line(&self) -> String {
        let t = chrono::DateTime::from_timestamp(
            self.time_nano.div_euclid(1_000_000_000),
            self.time_nano.rem_euclid(1_000_000_000) as u32,
        )
        .unwrap_or_default();
        let mut s = format!(
            "{} {} {} {}",
            t.format("%Y-%m-%dT%H:%M:%S%.9fZ"),
            self.kind,
            self.action,
            self.actor.id
        );
        if !self.actor.attributes.is_empty() {
            let attrs: Vec<String> = self
                .actor
                .attributes
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect();
            s.push_str(&format!(" ({})", attrs.join(", ")));
        }
        s
    }
}

impl crate::Store {
    /// Records image event `action` for image `id` (`sha256:...` or a reference), with
    /// Docker's `name` attribute (the ID itself when `None`, as Docker's `untag` and
    /// `delete` have it).
    pub fn image_event(&self, action: &str, id: &str, name: Option<&str>) {
        let attrs = BTreeMap::from([("name".to_string(), name.unwrap_or(id).to_string())]);
        record(self.root(), "image", action, id, attrs);
    }

    /// Docker's `tag` event: the image's ID, named by the tag in its familiar form.
    pub(crate) fn tag_event(&self, name: &str, target: &oci::Digest) {
        let id = self
            .resolve_image(&target.to_string())
            .map(|i| i.id.to_string())
            .unwrap_or_else(|_| target.to_string());
        let familiar = oci::reference::parse_normalized_named(name)
            .map(|r| r.familiar_string())
            .unwrap_or_else(|_| name.to_string());
        self.image_event("tag", &id, Some(&familiar));
    }
}

/// The journal file of the store at `root`.
pub fn journal_path(root: &Path) -> PathBuf {
    root.join("events.log")
}

fn lock_path(root: &Path) -> PathBuf {
    root.join("events.lock")
}

/// Records an event happening now (best effort, see the module doc).
pub fn record(
    root: &Path,
    kind: &str,
    action: &str,
    id: &str,
    attributes: BTreeMap<String, String>,
) {
    let _ = append(root, &Event::new(kind, action, id, attributes));
}

/// Appends `event` to the journal in one write, trimming the journal when it has grown
/// past [`MAX_BYTES`].
pub fn append(root: &Path, event: &Event) -> io::Result<()> {
    append_bounded(root, event, MAX_BYTES, KEEP)
}

fn append_bounded(root: &Path, event: &Event, max: u64, keep: usize) -> io::Result<()> {
    let mut line = serde_json::to_vec(event).map_err(io::Error::other)?;
    line.push(b'\n');
    let lock = OpenOptions::new()
        .create(true)
        .append(true)
        .open(lock_path(root))?;
    let size = {
        // Shared: appenders run together; a trim excludes them all.
        lock.lock_shared()?;
        let mut f = OpenOptions::new()
            .create(true)
            .append(true)
            .open(journal_path(root))?;
        f.write_all(&line)?;
        let size = f.metadata()?.len();
        lock.unlock()?;
        size
    };
    if size > max {
        lock.lock()?;
        let trimmed = trim(root, max, keep);
        lock.unlock()?;
        trimmed?;
    }
    Ok(())
}

/// Rewrites the journal with its newest `keep` lines, if it is still past `max` (another
/// appender may have trimmed it first). Readers following the old file see its inode
/// change and reopen (see [`Follower`]).
fn trim(root: &Path, max: u64, keep: usize) -> io::Result<()> {
    let path = journal_path(root);
    if fs::metadata(&path)?.len() <= max {
        return Ok(());
    }
    let text = fs::read(&path)?;
    let lines: Vec<&[u8]> = text
        .split(|b| *b == b'\n')
        .filter(|l| !l.is_empty())
        .collect();
    let start = lines.len().saturating_sub(keep);
    let tmp = root.join(format!("events.log.tmp-{}", std::process::id()));
    let mut f = File::create(&tmp)?;
    for l in &lines[start..] {
        f.write_all(l)?;
        f.write_all(b"\n")?;
    }
    f.sync_all()?;
    fs::rename(&tmp, &path)
}

/// Every event in the journal, oldest first; lines that do not parse are skipped.
pub fn read_all(root: &Path) -> io::Result<Vec<Event>> {
    let mut f = Follower::new(root);
    f.poll()
}

/// Reads the journal incrementally: each [`Follower::poll`] returns the events appended
/// since the last one, across trims.
pub struct Follower {
    path: PathBuf,
    file: Option<(BufReader<File>, u64)>,
    partial: Vec<u8>,
    last_nano: i64,
}

impl Follower {
    /// A follower at the journal's start.
    pub fn new(root: &Path) -> Follower {
        Follower {
            path: journal_path(root),
            file: None,
            partial: Vec::new(),
            last_nano: i64::MIN,
        }
    }

    /// The complete lines added since the last call, as events.
    pub fn poll(&mut self) -> io::Result<Vec<Event>> {
        let current_ino = match fs::metadata(&self.path) {
            Ok(m) => Some(m.ino()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => None,
            Err(e) => return Err(e),
        };
        let mut reopened = false;
        if self.file.as_ref().map(|(_, ino)| *ino) != current_ino {
            // First look, or the file was trimmed (replaced): read the new one, skipping
            // what was already returned.
            reopened = self.file.is_some();
            self.partial.clear();
            self.file = match File::open(&self.path) {
                Ok(f) => {
                    let ino = f.metadata()?.ino();
                    Some((BufReader::new(f), ino))
                }
                Err(e) if e.kind() == io::ErrorKind::NotFound => None,
                Err(e) => return Err(e),
            };
        }
        let Some((reader, _)) = self.file.as_mut() else {
            return Ok(Vec::new());
        };
        let mut out = Vec::new();
        loop {
            let mut buf = Vec::new();
            let n = reader.read_until(b'\n', &mut buf)?;
            if n == 0 {
                break;
            }
            self.partial.extend_from_slice(&buf);
            if !self.partial.ends_with(b"\n") {
                // A line still being written is never torn (one write), but the read may
                // have raced it: keep the start for the next poll.
                break;
            }
            let line = std::mem::take(&mut self.partial);
            if let Ok(ev) = serde_json::from_slice::<Event>(&line) {
                if reopened && ev.time_nano <= self.last_nano {
                    continue;
                }
                out.push(ev);
            }
        }
        if let Some(last) = out.last() {
            self.last_nano = self.last_nano.max(last.time_nano);
        }
        Ok(out)
    }

    /// Skips to the journal's end: only later events are returned.
    pub fn seek_end(&mut self) -> io::Result<()> {
        self.poll()?;
        if let Some((reader, _)) = self.file.as_mut() {
            reader.seek(SeekFrom::End(0))?;
            let mut rest = Vec::new();
            reader.read_to_end(&mut rest)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attrs(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn default_line_is_dockers() {
        let ev = Event::at(
            "container",
            "create",
            "abc",
            attrs(&[("name", "x"), ("image", "bb")]),
            1_796_637_600_123_456_789,
        );
        assert_eq!(
            ev.line(),
            "2026-12-07T10:00:00.123456789Z container create abc (image=bb, name=x)"
        );
        let ev = Event::at("volume", "create", "v", BTreeMap::new(), 1_000_000_000);
        assert_eq!(ev.line(), "1970-01-01T00:00:01.000000000Z volume create v");
    }

    #[test]
    fn json_has_dockers_fields() {
        let ev = Event::at(
            "container",
            "die",
            "abc",
            attrs(&[("image", "bb"), ("exitCode", "0")]),
            1_500_000_000,
        );
        let v: serde_json::Value = serde_json::to_value(&ev).unwrap();
        assert_eq!(v["status"], "die");
        assert_eq!(v["id"], "abc");
        assert_eq!(v["from"], "bb");
        assert_eq!(v["Type"], "container");
        assert_eq!(v["Action"], "die");
        assert_eq!(v["Actor"]["ID"], "abc");
        assert_eq!(v["Actor"]["Attributes"]["exitCode"], "0");
        assert_eq!(v["scope"], "local");
        assert_eq!(v["time"], 1);
        assert_eq!(v["timeNano"], 1_500_000_000i64);
        // Volume and network events have no legacy fields.
        let v =
            serde_json::to_value(Event::at("volume", "create", "v", BTreeMap::new(), 0)).unwrap();
        assert!(v.get("status").is_none() && v.get("id").is_none());
    }

    #[test]
    fn appends_reads_and_trims_keeping_the_newest() {
        let dir = tempfile::tempdir().unwrap();
        let mut follower = Follower::new(dir.path());
        assert!(follower.poll().unwrap().is_empty());
        for i in 0..10 {
            let ev = Event::at("volume", "create", &format!("v{i}"), BTreeMap::new(), i);
            append_bounded(dir.path(), &ev, 1 << 20, 4).unwrap();
        }
        let seen: Vec<String> = follower
            .poll()
            .unwrap()
            .into_iter()
            .map(|e| e.actor.id)
            .collect();
        assert_eq!(seen.len(), 10);
        // Past the bound: trimmed to the newest 4; the follower sees only the new one.
        let ev = Event::at("volume", "create", "v10", BTreeMap::new(), 10);
        append_bounded(dir.path(), &ev, 100, 4).unwrap();
        let all: Vec<String> = read_all(dir.path())
            .unwrap()
            .into_iter()
            .map(|e| e.actor.id)
            .collect();
        assert_eq!(all, ["v7", "v8", "v9", "v10"]);
        let new: Vec<String> = follower
            .poll()
            .unwrap()
            .into_iter()
            .map(|e| e.actor.id)
            .collect();
        assert_eq!(new, ["v10"]);
    }

    #[test]
    fn concurrent_appenders_never_interleave() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().to_path_buf();
        let threads: Vec<_> = (0..4)
            .map(|t| {
                let root = root.clone();
                std::thread::spawn(move || {
                    for i in 0..200 {
                        let big = "x".repeat(500);
                        record(
                            &root,
                            "container",
                            "start",
                            &format!("{t}-{i}"),
                            attrs(&[("pad", &big)]),
                        );
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        let text = fs::read_to_string(journal_path(&root)).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 800);
        for l in lines {
            serde_json::from_str::<Event>(l).unwrap();
        }
    }
}
