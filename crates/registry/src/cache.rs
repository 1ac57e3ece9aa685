//! A bounded in-memory cache of manifests by digest.
//!
//! Content under a digest never changes, so a cached copy is never stale; whether a
//! repository still *has* the manifest is checked in storage on every request (its
//! revision link), which keeps replicas sharing a bucket and deletes correct.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

use bytes::Bytes;
use oci::Digest;

/// Digest → bytes, holding at most a byte budget; the oldest entries go first.
#[derive(Debug)]
pub struct ContentCache {
    budget: usize,
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    map: HashMap<Digest, Bytes>,
    order: VecDeque<Digest>,
    bytes: usize,
}

impl ContentCache {
    /// A cache holding at most `budget` bytes of content.
    pub fn new(budget: usize) -> ContentCache {
        ContentCache {
            budget,
            inner: Mutex::default(),
        }
    }

    /// The content of `d`, when cached.
    pub fn get(&self, d: &Digest) -> Option<Bytes> {
        let inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        inner.map.get(d).cloned()
    }

    /// Remembers `data` as the content of `d`. The caller has verified the digest.
    pub fn insert(&self, d: Digest, data: Bytes) {
        if data.len() > self.budget / 4 {
            return;
        }
        let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        if inner.map.contains_key(&d) {
            return;
        }
        while inner.bytes + data.len() > self.budget {
            let Some(old) = inner.order.pop_front() else {
                break;
            };
            if let Some(b) = inner.map.remove(&old) {
                inner.bytes -= b.len();
            }
        }
        inner.bytes += data.len();
        inner.order.push_back(d.clone());
        inner.map.insert(d, data);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounded_oldest_first() {
        let c = ContentCache::new(100);
        let d = |i: u8| Digest::sha256_of(&[i]);
        c.insert(d(1), Bytes::from(vec![1; 20]));
        c.insert(d(2), Bytes::from(vec![2; 20]));
        c.insert(d(3), Bytes::from(vec![3; 20]));
        c.insert(d(4), Bytes::from(vec![4; 20]));
        c.insert(d(5), Bytes::from(vec![5; 20]));
        assert!(c.get(&d(1)).is_some());
        c.insert(d(6), Bytes::from(vec![6; 20]));
        assert!(c.get(&d(1)).is_none());
        assert_eq!(c.get(&d(6)).unwrap().len(), 20);
        // Too big for a quarter of the budget: not cached.
        c.insert(d(7), Bytes::from(vec![7; 26]));
        assert!(c.get(&d(7)).is_none());
        assert!(c.get(&d(2)).is_some());
    }
}
