//! Opening a backend from a bucket URL and options (`s3://`, `gs://`, `az://`).

use std::sync::Arc;

use object_store::ObjectStoreScheme;

use super::{DEFAULT_PART_SIZE, ObjectStorage, config_err};
use crate::error::StorageError;
use crate::storage::object_client;

impl ObjectStorage {
    /// A backend for a bucket URL: `s3://bucket[/prefix]`, `gs://bucket[/prefix]`,
    /// `az://container[/prefix]` (or the services' `https://` URLs). `options` are the
    /// `object_store` builder's settings (`endpoint`, `region`, `access_key_id`,
    /// `secret_access_key`, `allow_http`, ...; `AWS_*`, `GOOGLE_*` and `AZURE_*` environment
    /// variables are read first, options override them), plus `part_size` (bytes, at least
    /// 5 MiB), `max_retries` and `retry_timeout` (see [`crate::storage::DEFAULT_MAX_RETRIES`]) for
    /// this backend.
    pub fn from_url(
        url: &str,
        options: impl IntoIterator<Item = (String, String)>,
    ) -> Result<ObjectStorage, StorageError> {
        let parsed = ::url::Url::parse(url).map_err(|e| config_err(url, e.to_string()))?;
        let (scheme, path) =
            ObjectStoreScheme::parse(&parsed).map_err(|e| config_err(url, e.to_string()))?;
        let mut part_size = DEFAULT_PART_SIZE;
        let mut rest = Vec::new();
        for (k, v) in options {
            let k = k.to_ascii_lowercase();
            if k == "part_size" {
                part_size = v
                    .parse()
                    .map_err(|_| config_err(url, format!("part_size {v:?} is not a number")))?;
            } else {
                rest.push((k, v));
            }
        }
        let tuning = object_client::Tuning::take(url, &mut rest)?;
        let prefix = path.to_string();
        let mut storage = match scheme {
            ObjectStoreScheme::AmazonS3 => {
                use object_store::aws::{AmazonS3Builder, AmazonS3ConfigKey};
                // Bounded retries first, so the user's options override them.
                let mut b = AmazonS3Builder::from_env()
                    .with_url(url)
                    .with_retry(tuning.retry.clone())
                    .with_client_options(tuning.client.clone());
                for (k, v) in rest {
                    let key: AmazonS3ConfigKey = k
                        .parse()
                        .map_err(|_| config_err(url, format!("unknown S3 option {k:?}")))?;
                    b = b.with_config(key, v);
                }
                let store = b.build().map_err(|e| config_err(url, e.to_string()))?;
                ObjectStorage::new(Arc::new(store), &prefix)?
            }
            ObjectStoreScheme::GoogleCloudStorage => {
                use object_store::gcp::{GoogleCloudStorageBuilder, GoogleConfigKey};
                // Bounded retries first, so the user's options override them.
                let mut b = GoogleCloudStorageBuilder::from_env()
                    .with_url(url)
                    .with_retry(tuning.retry.clone())
                    .with_client_options(tuning.client.clone());
                for (k, v) in rest {
                    let key: GoogleConfigKey = k
                        .parse()
                        .map_err(|_| config_err(url, format!("unknown GCS option {k:?}")))?;
                    b = b.with_config(key, v);
                }
                let store = b.build().map_err(|e| config_err(url, e.to_string()))?;
                ObjectStorage::new(Arc::new(store), &prefix)?
            }
            ObjectStoreScheme::MicrosoftAzure => {
                use object_store::azure::{AzureConfigKey, MicrosoftAzureBuilder};
                // Bounded retries first, so the user's options override them.
                let mut b = MicrosoftAzureBuilder::from_env()
                    .with_url(url)
                    .with_retry(tuning.retry.clone())
                    .with_client_options(tuning.client.clone());
                for (k, v) in rest {
                    let key: AzureConfigKey = k
                        .parse()
                        .map_err(|_| config_err(url, format!("unknown Azure option {k:?}")))?;
                    b = b.with_config(key, v);
                }
                let store = b.build().map_err(|e| config_err(url, e.to_string()))?;
                ObjectStorage::new(Arc::new(store), &prefix)?
            }
            _ => {
                return Err(config_err(
                    url,
                    "not an object-storage URL (s3://, gs://, az:// or https://)",
                ));
            }
        };
        storage.url = object_client::redact(&parsed);
        storage.with_part_size(part_size)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::Key;

    fn opts(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn from_url_and_key_mapping() {
        let base = [
            ("endpoint", "http://127.0.0.1:9"),
            ("region", "us-east-1"),
            ("access_key_id", "k"),
            ("secret_access_key", "s"),
            ("allow_http", "true"),
        ];
        // (url, extra options, ok)
        type Case = (&'static str, &'static [(&'static str, &'static str)], bool);
        let cases: &[Case] = &[
            ("s3://bucket", &[], true),
            ("s3://bucket/pre/fix", &[], true),
            ("s3://bucket", &[("part_size", "5242880")], true),
            ("s3://bucket", &[("PART_SIZE", "16777216")], true),
            ("s3://bucket", &[("part_size", "1024")], false),
            ("s3://bucket", &[("part_size", "big")], false),
            ("s3://bucket", &[("no_such_option", "1")], false),
            ("ftp://bucket", &[], false),
            ("not a url", &[], false),
        ];
        for (url, extra, ok) in cases {
            let mut o = opts(&base);
            o.extend(opts(extra));
            let r = ObjectStorage::from_url(url, o);
            assert_eq!(r.is_ok(), *ok, "{url} {extra:?}: {r:?}");
            if let Err(e) = r {
                assert!(matches!(e, StorageError::Config { .. }), "{e}");
                assert!(e.to_string().contains(url), "{e}");
            }
        }

        let s = ObjectStorage::from_url("s3://bucket/pre/fix", opts(&base)).unwrap();
        assert_eq!(s.part_size(), DEFAULT_PART_SIZE);
        // (key, object path, upload state directory)
        let keys: &[(&str, &str, Option<&str>)] = &[
            ("", "pre/fix", None),
            ("a", "pre/fix/a", Some("pre/fix/.a.upload")),
            (
                "repositories/x/_uploads/id/data",
                "pre/fix/repositories/x/_uploads/id/data",
                Some("pre/fix/repositories/x/_uploads/id/.data.upload"),
            ),
        ];
        for (k, path, sidecar) in keys {
            let k = Key::new(*k).unwrap();
            assert_eq!(s.path(&k).as_ref(), *path);
            assert_eq!(s.sidecar(&k).as_ref().map(|p| p.as_ref()), *sidecar);
        }
        let s = ObjectStorage::from_url("s3://bucket", opts(&base)).unwrap();
        assert_eq!(s.path(&Key::new("a/b").unwrap()).as_ref(), "a/b");
        assert_eq!(s.prefix_path(), None);
    }
}
