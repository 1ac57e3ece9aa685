//! Upload state: what a resumable upload holds (sealed segments, an open multipart
//! upload, a tail), kept as JSON in the bucket, and the steps that grow and seal it.

use std::io;
use std::ops::Range;
use std::time::SystemTime;

use bytes::{Bytes, BytesMut};
use futures::{StreamExt, TryStreamExt};
use object_store::multipart::PartId;
use object_store::path::Path;
use object_store::{GetOptions, GetRange, ObjectStore, ObjectStoreExt, PutPayload};
use serde::{Deserialize, Serialize};

use super::{MIN_PART_SIZE, ObjectStorage, remote};
use crate::error::StorageError;
use crate::storage::{ByteStream, Key};

impl ObjectStorage {
    /// Reads the upload state of `key`, with the state object's modification time.
    pub(super) async fn load_state(
        &self,
        key: &Key,
    ) -> Result<Option<(UploadState, SystemTime)>, StorageError> {
        let Some(dir) = self.sidecar(key) else {
            return Ok(None);
        };
        let p = dir.clone().join("state");
        let r = match self.store.get(&p).await {
            Ok(r) => r,
            Err(object_store::Error::NotFound { .. }) => return Ok(None),
            Err(e) => return Err(remote("read upload state", key, e)),
        };
        let modified = SystemTime::from(r.meta.last_modified);
        if r.meta.size > STATE_MAX {
            return Err(StorageError::TooLarge {
                key: p.to_string(),
                limit: STATE_MAX,
            });
        }
        let bytes = r
            .bytes()
            .await
            .map_err(|e| remote("read upload state", key, e))?;
        let state = UploadState::decode(&bytes).map_err(|message| StorageError::Io {
            op: "decode upload state",
            key: key.to_string(),
            source: io::Error::new(io::ErrorKind::InvalidData, message),
        })?;
        Ok(Some((state, modified)))
    }

    pub(super) async fn save_state(
        &self,
        key: &Key,
        dir: &Path,
        state: &UploadState,
    ) -> Result<(), StorageError> {
        self.store
            .put(&dir.clone().join("state"), PutPayload::from(state.encode()))
            .await
            .map_err(|e| remote("write upload state", key, e))?;
        Ok(())
    }

    /// Writes one whole part of upload `key`, opening its multipart upload when needed.
    pub(super) async fn write_part(
        &self,
        key: &Key,
        dir: &Path,
        state: &mut UploadState,
        data: Bytes,
    ) -> Result<(), StorageError> {
        if state.multipart.is_none() {
            state.seq += 1;
            let name = format!("mp-{}", state.seq);
            let id = self
                .multipart
                .create_multipart(&dir.clone().join(name.as_str()))
                .await
                .map_err(|e| remote("start multipart upload", key, e))?;
            state.multipart = Some(Multipart {
                name,
                id,
                part_size: self.part_size as u64,
                parts: Vec::new(),
            });
        }
        let Some(mp) = state.multipart.as_mut() else {
            unreachable!("opened above")
        };
        let len = data.len() as u64;
        let part = self
            .multipart
            .put_part(
                &dir.clone().join(mp.name.as_str()),
                &mp.id,
                mp.parts.len(),
                PutPayload::from(data),
            )
            .await
            .map_err(|e| remote("upload part", key, e))?;
        mp.parts.push(part.content_id);
        state.size += len;
        Ok(())
    }

    /// Completes the open multipart upload of `key` (with the tail as its last part) and
    /// saves the state, so the upload is a list of readable segments.
    pub(super) async fn seal(
        &self,
        key: &Key,
        dir: &Path,
        state: &mut UploadState,
    ) -> Result<(), StorageError> {
        let old_tail = state.tail.take();
        match state.multipart.take() {
            Some(mut mp) => {
                let mp_path = dir.clone().join(mp.name.as_str());
                let mut size = mp.part_size * mp.parts.len() as u64;
                if let Some(t) = &old_tail {
                    let data = self
                        .read_object(key, &dir.clone().join(t.name.as_str()), mp.part_size)
                        .await?;
                    size += data.len() as u64;
                    let part = self
                        .multipart
                        .put_part(&mp_path, &mp.id, mp.parts.len(), PutPayload::from(data))
                        .await
                        .map_err(|e| remote("upload last part", key, e))?;
                    mp.parts.push(part.content_id);
                }
                let parts = mp
                    .parts
                    .iter()
                    .map(|c| PartId {
                        content_id: c.clone(),
                    })
                    .collect();
                if let Err(e) = self
                    .multipart
                    .complete_multipart(&mp_path, &mp.id, parts)
                    .await
                {
                    // Completed already by a replica that died before saving the state?
                    match self.store.head(&mp_path).await {
                        Ok(m) if m.size == size => {}
                        _ => return Err(remote("complete multipart upload", key, e)),
                    }
                }
                state.sealed.push(Segment {
                    name: mp.name,
                    size,
                });
                self.save_state(key, dir, state).await?;
                if let Some(t) = old_tail {
                    self.delete_quietly(key, &dir.clone().join(t.name.as_str()))
                        .await?;
                }
            }
            None => {
                if let Some(t) = old_tail {
                    state.sealed.push(t);
                    self.save_state(key, dir, state).await?;
                }
            }
        }
        Ok(())
    }

    /// A stream of `range` of the concatenated sealed segments of an upload.
    pub(super) fn read_segments(
        &self,
        dir: &Path,
        segments: &[Segment],
        range: Range<u64>,
    ) -> ByteStream<'static> {
        let store = self.store.clone();
        let pieces: Vec<(Path, Range<u64>)> =
            segment_ranges(&segments.iter().map(|s| s.size).collect::<Vec<_>>(), range)
                .into_iter()
                .map(|(i, r)| (dir.clone().join(segments[i].name.as_str()), r))
                .collect();
        futures::stream::iter(pieces)
            .then(move |(p, r)| {
                let store = store.clone();
                async move {
                    let opts = GetOptions::new().with_range(Some(GetRange::Bounded(r)));
                    store
                        .get_opts(&p, opts)
                        .await
                        .map(|g| g.into_stream().map_err(io::Error::other))
                        .map_err(io::Error::other)
                }
            })
            .try_flatten()
            .boxed()
    }
}

/// The largest upload state object read.
pub(super) const STATE_MAX: u64 = 4 * 1024 * 1024;

/// An upload's state, kept as JSON in the bucket.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(super) struct UploadState {
    /// Format version (1).
    pub(super) v: u32,
    /// Total bytes held: sealed segments, then whole parts, then the tail.
    pub(super) size: u64,
    /// A counter for the names of new objects in the state directory.
    pub(super) seq: u64,
    /// Completed objects, in order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(super) sealed: Vec<Segment>,
    /// The open multipart upload, after the sealed segments.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) multipart: Option<Multipart>,
    /// The bytes after the last whole part (less than a part).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) tail: Option<Segment>,
}

/// A readable object in an upload's state directory.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(super) struct Segment {
    pub(super) name: String,
    pub(super) size: u64,
}

/// An open multipart upload whose parts are each `part_size` bytes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(super) struct Multipart {
    /// Its target object in the state directory.
    pub(super) name: String,
    /// The service's upload id.
    pub(super) id: String,
    pub(super) part_size: u64,
    /// The ids (ETags) of the parts, in order.
    pub(super) parts: Vec<String>,
}

impl UploadState {
    pub(super) fn encode(&self) -> Bytes {
        let mut s = self.clone();
        s.v = 1;
        Bytes::from(serde_json::to_vec(&s).unwrap_or_default())
    }

    /// Parses and checks a state: known version, sizes that add up, names that stay in
    /// the state directory.
    pub(super) fn decode(data: &[u8]) -> Result<UploadState, String> {
        let s: UploadState =
            serde_json::from_slice(data).map_err(|e| format!("malformed upload state: {e}"))?;
        if s.v != 1 {
            return Err(format!("unknown upload state version {}", s.v));
        }
        let names = s
            .sealed
            .iter()
            .map(|g| g.name.as_str())
            .chain(s.multipart.iter().map(|m| m.name.as_str()))
            .chain(s.tail.iter().map(|t| t.name.as_str()));
        for n in names {
            if n.contains('/') || Key::new(n).is_err() || n == "state" {
                return Err(format!("bad object name {n:?} in upload state"));
            }
        }
        let mut total: u64 = s.sealed.iter().map(|g| g.size).sum();
        if let Some(m) = &s.multipart {
            if (m.part_size as usize) < MIN_PART_SIZE {
                return Err(format!("part size {} is too small", m.part_size));
            }
            total += m.part_size * m.parts.len() as u64;
        }
        if let Some(t) = &s.tail {
            let limit = s.multipart.as_ref().map_or(u64::MAX, |m| m.part_size);
            if t.size == 0 || t.size >= limit {
                return Err(format!("tail of {} bytes", t.size));
            }
            total += t.size;
        }
        if total != s.size {
            return Err(format!(
                "upload state says {} bytes but its pieces hold {total}",
                s.size
            ));
        }
        Ok(s)
    }
}

/// Cuts a stream of chunks into parts of exactly `part_size` bytes, keeping the rest.
#[derive(Debug)]
pub(super) struct PartBuffer {
    pub(super) buf: BytesMut,
    pub(super) part_size: usize,
}

impl PartBuffer {
    pub(super) fn new(part_size: usize) -> PartBuffer {
        PartBuffer {
            buf: BytesMut::new(),
            part_size,
        }
    }

    /// Adds `chunk`; returns the whole parts now complete.
    pub(super) fn push(&mut self, chunk: Bytes) -> Vec<Bytes> {
        let mut parts = Vec::new();
        if self.buf.is_empty() && chunk.len() == self.part_size {
            parts.push(chunk);
            return parts;
        }
        self.buf.extend_from_slice(&chunk);
        while self.buf.len() >= self.part_size {
            parts.push(self.buf.split_to(self.part_size).freeze());
        }
        parts
    }

    /// The bytes after the last whole part.
    pub(super) fn finish(self) -> Bytes {
        self.buf.freeze()
    }
}

/// Which bytes of which segments (of the given sizes, concatenated) make up `range`.
pub(super) fn segment_ranges(sizes: &[u64], range: Range<u64>) -> Vec<(usize, Range<u64>)> {
    let mut out = Vec::new();
    let mut start = 0u64;
    for (i, &size) in sizes.iter().enumerate() {
        let end = start + size;
        let lo = range.start.max(start);
        let hi = range.end.min(end);
        if lo < hi {
            out.push((i, lo - start..hi - start));
        }
        start = end;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    pub(super) fn part_buffer_cuts_exact_parts() {
        // (part size, chunk sizes, sizes of the parts returned per push, remainder)
        type Case = (usize, &'static [usize], &'static [&'static [usize]], usize);
        let cases: &[Case] = &[
            (4, &[], &[], 0),
            (4, &[3], &[&[]], 3),
            (4, &[4], &[&[4]], 0),
            (4, &[1, 2, 1], &[&[], &[], &[4]], 0),
            (4, &[3, 3, 3], &[&[], &[4], &[4]], 1),
            (4, &[9], &[&[4, 4]], 1),
            (4, &[2, 10], &[&[], &[4, 4, 4]], 0),
            (4, &[0, 5], &[&[], &[4]], 1),
        ];
        for (size, chunks, want_parts, rest) in cases {
            let mut b = PartBuffer::new(*size);
            let mut data = Vec::new();
            let mut out = Vec::new();
            let mut n = 0u8;
            for (c, want) in chunks.iter().zip(want_parts.iter()) {
                let chunk: Vec<u8> = (0..*c)
                    .map(|_| {
                        n = n.wrapping_add(1);
                        n
                    })
                    .collect();
                data.extend_from_slice(&chunk);
                let parts = b.push(Bytes::from(chunk));
                let sizes: Vec<usize> = parts.iter().map(Bytes::len).collect();
                assert_eq!(&sizes[..], *want, "size {size}, chunks {chunks:?}");
                out.extend(parts);
            }
            let r = b.finish();
            assert_eq!(r.len(), *rest, "size {size}, chunks {chunks:?}");
            out.push(r);
            assert_eq!(out.concat(), data, "bytes kept in order");
        }
    }

    #[test]
    pub(super) fn segment_ranges_table() {
        type Case = (&'static [u64], Range<u64>, &'static [(usize, Range<u64>)]);
        let cases: &[Case] = &[
            (&[10], 0..10, &[(0, 0..10)]),
            (&[10], 3..7, &[(0, 3..7)]),
            (&[10, 5], 0..15, &[(0, 0..10), (1, 0..5)]),
            (&[10, 5], 8..12, &[(0, 8..10), (1, 0..2)]),
            (&[10, 5], 10..15, &[(1, 0..5)]),
            (&[10, 5], 10..10, &[]),
            (&[10, 0, 5], 9..11, &[(0, 9..10), (2, 0..1)]),
            (&[3, 3, 3], 2..8, &[(0, 2..3), (1, 0..3), (2, 0..2)]),
            (&[], 0..0, &[]),
        ];
        for (sizes, range, want) in cases {
            assert_eq!(
                segment_ranges(sizes, range.clone()),
                want.to_vec(),
                "{sizes:?} {range:?}"
            );
        }
    }

    pub(super) fn state(
        size: u64,
        sealed: &[(&str, u64)],
        mp: Option<(u64, usize)>,
        tail: Option<u64>,
    ) -> UploadState {
        UploadState {
            v: 1,
            size,
            seq: 7,
            sealed: sealed
                .iter()
                .map(|(n, s)| Segment {
                    name: n.to_string(),
                    size: *s,
                })
                .collect(),
            multipart: mp.map(|(part_size, n)| Multipart {
                name: "mp-3".into(),
                id: "upload-id".into(),
                part_size,
                parts: (0..n).map(|i| format!("\"etag{i}\"")).collect(),
            }),
            tail: tail.map(|size| Segment {
                name: "tail-5".into(),
                size,
            }),
        }
    }

    #[test]
    pub(super) fn upload_state_round_trips_and_is_checked() {
        let m = MIN_PART_SIZE as u64;
        let good = [
            state(0, &[], None, None),
            state(3, &[], None, Some(3)),
            state(2 * m + 1, &[], Some((m, 2)), Some(1)),
            state(10 + m, &[("seg-1", 10)], Some((m, 1)), None),
            state(12, &[("tail-1", 10), ("tail-2", 2)], None, None),
        ];
        for s in &good {
            let bytes = s.encode();
            assert_eq!(&UploadState::decode(&bytes).unwrap(), s, "{s:?}");
        }
        // Hand-written states, as another replica (or a person) could have left them.
        let cases: &[(&str, bool)] = &[
            (r#"{"v":1,"size":0,"seq":0}"#, true),
            (
                r#"{"v":1,"size":4,"seq":2,"tail":{"name":"tail-2","size":4}}"#,
                true,
            ),
            (r#"{"v":2,"size":0,"seq":0}"#, false),
            (
                r#"{"v":1,"size":5,"seq":2,"tail":{"name":"tail-2","size":4}}"#,
                false,
            ),
            (
                r#"{"v":1,"size":0,"seq":2,"tail":{"name":"tail-2","size":0}}"#,
                false,
            ),
            (
                r#"{"v":1,"size":4,"seq":2,"tail":{"name":"../x","size":4}}"#,
                false,
            ),
            (
                r#"{"v":1,"size":4,"seq":2,"tail":{"name":"a/b","size":4}}"#,
                false,
            ),
            (
                r#"{"v":1,"size":4,"seq":2,"tail":{"name":"state","size":4}}"#,
                false,
            ),
            (
                r#"{"v":1,"size":2,"seq":2,"multipart":{"name":"mp-1","id":"x","part_size":1,"parts":["a","b"]}}"#,
                false,
            ),
            (
                r#"{"v":1,"size":5242880,"seq":2,"multipart":{"name":"mp-1","id":"x","part_size":5242880,"parts":["a"]}}"#,
                true,
            ),
            (
                r#"{"v":1,"size":10485760,"seq":2,"multipart":{"name":"mp-1","id":"x","part_size":5242880,"parts":["a"]},"tail":{"name":"t","size":5242880}}"#,
                false,
            ),
            ("not json", false),
            ("", false),
        ];
        for (json, ok) in cases {
            assert_eq!(UploadState::decode(json.as_bytes()).is_ok(), *ok, "{json}");
        }
    }
}
