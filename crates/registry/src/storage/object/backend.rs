//! The [`Storage`] implementation: each operation of the trait on objects.

use std::io;
use std::ops::Range;
use std::time::SystemTime;

use futures::future::BoxFuture;
use futures::{StreamExt, TryStreamExt};
use object_store::list::PaginatedListOptions;
use object_store::path::Path;
use object_store::{GetOptions, GetRange, ObjectStore, ObjectStoreExt, PutPayload};

use super::keys::{child_names, encode_component, name_record, valid_name};
use super::upload::{PartBuffer, Segment, UploadState};
use super::{COPY_MAX, ObjectStorage, remote};
use crate::error::StorageError;
use crate::storage::{ByteStream, Key, Meta, Storage};

impl Storage for ObjectStorage {
    fn check(&self) -> BoxFuture<'_, Result<(), StorageError>> {
        Box::pin(async move {
            // One listing request: it fails on an unreachable endpoint, bad credentials
            // and a missing bucket alike (a HEAD of a missing key could not tell the last
            // from an empty bucket).
            let root = Key::root();
            self.store
                .list_with_delimiter(self.prefix_path().as_ref())
                .await
                .map(|_| ())
                .map_err(|e| StorageError::Io {
                    op: "list",
                    key: root.to_string(),
                    source: io::Error::other(e),
                })
        })
    }

    fn describe(&self) -> String {
        self.url.clone()
    }

    fn meta<'a>(&'a self, key: &'a Key) -> BoxFuture<'a, Result<Option<Meta>, StorageError>> {
        Box::pin(async move {
            match self.store.head(&self.path(key)).await {
                Ok(m) => {
                    return Ok(Some(Meta {
                        size: m.size,
                        modified: SystemTime::from(m.last_modified),
                    }));
                }
                Err(object_store::Error::NotFound { .. }) => {}
                Err(e) => return Err(remote("stat", key, e)),
            }
            Ok(self.load_state(key).await?.map(|(s, modified)| Meta {
                size: s.size,
                modified,
            }))
        })
    }

    fn get<'a>(
        &'a self,
        key: &'a Key,
        range: Option<Range<u64>>,
    ) -> BoxFuture<'a, Result<ByteStream<'static>, StorageError>> {
        Box::pin(async move {
            let empty = range.as_ref().is_some_and(|r| r.start >= r.end);
            let opts = match &range {
                Some(r) if !empty => {
                    GetOptions::new().with_range(Some(GetRange::Bounded(r.clone())))
                }
                // An empty range: S3 cannot express it, so just check the object is there.
                Some(_) => GetOptions::new().with_head(true),
                None => GetOptions::new(),
            };
            match self.store.get_opts(&self.path(key), opts).await {
                Ok(r) if empty => {
                    drop(r);
                    return Ok(futures::stream::empty().boxed());
                }
                Ok(r) => return Ok(r.into_stream().map_err(io::Error::other).boxed()),
                Err(object_store::Error::NotFound { .. }) => {}
                Err(e) => return Err(remote("read", key, e)),
            }
            // An upload: seal it, then read its segments.
            let (Some((mut state, _)), Some(dir)) =
                (self.load_state(key).await?, self.sidecar(key))
            else {
                return Err(StorageError::NotFound {
                    key: key.to_string(),
                });
            };
            let range = range.unwrap_or(0..state.size);
            if range.start >= range.end {
                return Ok(futures::stream::empty().boxed());
            }
            self.seal(key, &dir, &mut state).await?;
            Ok(self.read_segments(&dir, &state.sealed, range))
        })
    }

    fn put<'a>(
        &'a self,
        key: &'a Key,
        body: ByteStream<'a>,
    ) -> BoxFuture<'a, Result<u64, StorageError>> {
        Box::pin(async move {
            self.ensure_names(key).await?;
            self.put_path(key, &self.path(key), body).await
        })
    }

    fn append<'a>(
        &'a self,
        key: &'a Key,
        offset: u64,
        mut body: ByteStream<'a>,
    ) -> BoxFuture<'a, Result<u64, StorageError>> {
        Box::pin(async move {
            let dir = self.sidecar(key).ok_or_else(|| StorageError::InvalidKey {
                key: key.to_string(),
            })?;
            let loaded = self.load_state(key).await?;
            let fresh = loaded.is_none();
            if fresh && offset == 0 {
                self.ensure_names(key).await?;
            }
            let mut state = match loaded {
                Some((s, _)) => s,
                None if offset == 0 => UploadState::default(),
                None => {
                    return Err(match self.store.head(&self.path(key)).await {
                        Ok(m) => StorageError::OffsetMismatch {
                            key: key.to_string(),
                            expected: m.size,
                            got: offset,
                        },
                        Err(_) => StorageError::NotFound {
                            key: key.to_string(),
                        },
                    });
                }
            };
            if state.size != offset {
                return Err(StorageError::OffsetMismatch {
                    key: key.to_string(),
                    expected: state.size,
                    got: offset,
                });
            }
            let part_size = state
                .multipart
                .as_ref()
                .map_or(self.part_size, |m| m.part_size as usize);
            let mut buf = PartBuffer::new(part_size);
            // The stored tail is merged in front of the first bytes that arrive.
            let mut old_tail = None;
            let mut received = 0u64;
            let mut body_error = None;
            while let Some(chunk) = body.next().await {
                let chunk = match chunk {
                    Ok(c) => c,
                    Err(source) => {
                        // Keep what arrived: the client may resume from there.
                        body_error = Some(StorageError::Body { source });
                        break;
                    }
                };
                if chunk.is_empty() {
                    continue;
                }
                if received == 0
                    && let Some(t) = state.tail.take()
                {
                    let data = self
                        .read_object(key, &dir.clone().join(t.name.as_str()), part_size as u64)
                        .await?;
                    state.size -= t.size;
                    // Less than a part: nothing comes out yet.
                    for part in buf.push(data) {
                        self.write_part(key, &dir, &mut state, part).await?;
                    }
                    old_tail = Some(t);
                }
                received += chunk.len() as u64;
                for part in buf.push(chunk) {
                    self.write_part(key, &dir, &mut state, part).await?;
                }
            }
            if received == 0 && !fresh {
                // Nothing arrived: the stored state still holds.
                return match body_error {
                    Some(e) => Err(e),
                    None => Ok(offset),
                };
            }
            let rest = buf.finish();
            if !rest.is_empty() {
                state.seq += 1;
                let name = format!("tail-{}", state.seq);
                let len = rest.len() as u64;
                self.store
                    .put(&dir.clone().join(name.as_str()), PutPayload::from(rest))
                    .await
                    .map_err(|e| remote("write upload tail", key, e))?;
                state.size += len;
                state.tail = Some(Segment { name, size: len });
            }
            self.save_state(key, &dir, &state).await?;
            if let Some(t) = old_tail {
                self.delete_quietly(key, &dir.clone().join(t.name.as_str()))
                    .await?;
            }
            match body_error {
                Some(e) => Err(e),
                None => Ok(state.size),
            }
        })
    }

    fn rename<'a>(&'a self, from: &'a Key, to: &'a Key) -> BoxFuture<'a, Result<(), StorageError>> {
        Box::pin(async move {
            self.ensure_names(to).await?;
            let dst = self.path(to);
            if let (Some((mut state, _)), Some(dir)) =
                (self.load_state(from).await?, self.sidecar(from))
            {
                self.seal(from, &dir, &mut state).await?;
                match state.sealed.as_slice() {
                    [] => {
                        self.store
                            .put(&dst, PutPayload::default())
                            .await
                            .map_err(|e| remote("write", to, e))?;
                    }
                    [one] if one.size <= COPY_MAX => {
                        self.store
                            .copy(&dir.clone().join(one.name.as_str()), &dst)
                            .await
                            .map_err(|e| remote("copy", from, e))?;
                    }
                    segments => {
                        let stream = self.read_segments(&dir, segments, 0..state.size);
                        self.put_path(to, &dst, stream).await?;
                    }
                }
                self.delete_tree(from, Some(&dir)).await?;
                return Ok(());
            }
            let src = self.path(from);
            let size = match self.store.head(&src).await {
                Ok(m) => m.size,
                Err(e) => return Err(remote("rename", from, e)),
            };
            if size <= COPY_MAX {
                self.store
                    .copy(&src, &dst)
                    .await
                    .map_err(|e| remote("copy", from, e))?;
            } else {
                let stream = self.get(from, None).await?;
                self.put_path(to, &dst, stream).await?;
            }
            self.delete_quietly(from, &src).await
        })
    }

    fn delete<'a>(&'a self, key: &'a Key) -> BoxFuture<'a, Result<bool, StorageError>> {
        Box::pin(async move {
            if key.as_str().is_empty() {
                return self.delete_tree(key, self.prefix_path().as_ref()).await;
            }
            let p = self.path(key);
            // Whether the object itself exists, by listing rather than HEAD: the key may
            // be a prefix, and some S3 servers (s3s-fs) fail a HEAD of one. The object
            // sorts first among the keys it is a prefix of.
            let opts = PaginatedListOptions {
                max_keys: Some(1),
                ..PaginatedListOptions::default()
            };
            let first = self
                .paged
                .list_paginated(Some(p.as_ref()), opts)
                .await
                .map_err(|e| remote("list for delete", key, e))?;
            let mut existed = first.result.objects.iter().any(|o| o.location == p);
            if existed {
                self.delete_quietly(key, &p).await?;
            }
            existed |= self.delete_tree(key, Some(&p)).await?;
            if let Some(dir) = self.sidecar(key) {
                existed |= self.delete_tree(key, Some(&dir)).await?;
            }
            Ok(existed)
        })
    }

    fn list<'a>(&'a self, key: &'a Key) -> BoxFuture<'a, Result<Vec<String>, StorageError>> {
        Box::pin(async move {
            let p = if key.as_str().is_empty() {
                self.prefix_path()
            } else {
                Some(self.path(key))
            };
            let r = self
                .store
                .list_with_delimiter(p.as_ref())
                .await
                .map_err(|e| remote("list", key, e))?;
            let names = r
                .common_prefixes
                .iter()
                .filter_map(|c| c.filename())
                .chain(r.objects.iter().filter_map(|o| o.location.filename()));
            let (mut out, hashed) = child_names(names);
            for h in hashed {
                let record = match &p {
                    Some(p) => p.clone().join(name_record(&h).as_str()),
                    None => Path::from(name_record(&h)),
                };
                let name = match self.store.get(&record).await {
                    Ok(r) => r
                        .bytes()
                        .await
                        .map_err(|e| remote("read name record", key, e))?,
                    Err(object_store::Error::NotFound { .. }) => continue,
                    Err(e) => return Err(remote("read name record", key, e)),
                };
                if let Ok(name) = std::str::from_utf8(&name)
                    && valid_name(name)
                    && encode_component(name) == h
                {
                    out.push(name.to_string());
                }
            }
            out.sort();
            out.dedup();
            Ok(out)
        })
    }
}
