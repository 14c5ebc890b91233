//! The JSON bodies of the admin API, shared by the server and `kura admin`.

use serde::{Deserialize, Deserializer, Serialize};

/// An access key as the admin API shows it (never with its secret).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct KeyInfo {
    /// The access key id.
    pub access_key_id: String,
    /// Name or description.
    pub name: String,
    /// Whether requests signed with it are accepted.
    pub enabled: bool,
    /// Creation time, RFC 3339.
    pub created: String,
    /// Last accepted request, RFC 3339 (`None`: never used).
    pub last_used: Option<String>,
    /// `bucket:r`, `bucket:rw`, `bucket:admin`, `*:…` for every bucket;
    /// `bucket/prefix/:r` or `bucket/prefix/:rw` for one folder only.
    pub permissions: Vec<String>,
    /// CIDR ranges requests may come from (empty: anywhere).
    pub allow_ips: Vec<String>,
}

/// `POST /keys`: a new key.
#[derive(Debug, Clone, Serialize, Deserialize, Default)]
pub struct NewKey {
    /// Name or description.
    pub name: String,
    /// Permissions, as in [`KeyInfo::permissions`].
    #[serde(default)]
    pub permissions: Vec<String>,
    /// CIDR ranges (or single addresses).
    #[serde(default)]
    pub allow_ips: Vec<String>,
}

/// `PATCH /keys/{id}`: what to change (absent fields stay as they are).
#[derive(Debug, Clone, Serialize, Deserialize, Default)]
pub struct KeyUpdate {
    /// New name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Disable or re-enable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    /// Replaces every permission.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub permissions: Option<Vec<String>>,
    /// Replaces the allow-list.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allow_ips: Option<Vec<String>>,
}

/// A secret, shown once: at creation and at rotation.
#[derive(Clone, Serialize, Deserialize)]
pub struct KeySecret {
    /// The access key id.
    pub access_key_id: String,
    /// The secret access key.
    pub secret_access_key: String,
}

/// A bucket's settings.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct BucketSettings {
    /// The bucket.
    pub name: String,
    /// Creation time, RFC 3339.
    pub created: String,
    /// Largest object one upload may store here (`None`: the server's limit).
    pub max_object_size: Option<u64>,
    /// The server-wide limit, for reference.
    pub server_max_object_size: u64,
    /// How long replaced and deleted versions stay recoverable here, in
    /// seconds (`None`: the server's retention).
    pub retention_seconds: Option<u64>,
    /// The server-wide retention, for reference.
    pub server_retention_seconds: u64,
    /// How long the change log is kept, in seconds, when longer than the
    /// retention (`None`: as long as the retention).
    #[serde(default)]
    pub change_log_retention_seconds: Option<u64>,
    /// How long a multipart upload may stay unfinished here, in seconds
    /// (`None`: the server's `--multipart-expiry`).
    #[serde(default)]
    pub multipart_expiry_seconds: Option<u64>,
    /// The server-wide multipart expiry, for reference.
    #[serde(default)]
    pub server_multipart_expiry_seconds: u64,
    /// Webhooks receiving this bucket's changes.
    #[serde(default)]
    pub webhooks: Vec<WebhookInfo>,
    /// Byte quota on the current objects (`None`: none).
    #[serde(default)]
    pub quota_bytes: Option<u64>,
    /// Object-count quota (`None`: none).
    #[serde(default)]
    pub max_objects: Option<u64>,
    /// What the bucket holds now.
    #[serde(default)]
    pub usage: Option<BucketUsage>,
    /// The chunk backend of the bucket's new objects (`None`: the
    /// server's own, `--blobs` or local files).
    #[serde(default)]
    pub backend: Option<BackendInfo>,
}

/// A bucket's own chunk backend, as shown (never its secret).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct BackendInfo {
    /// Its number in the server's registry (what chunk references record).
    pub number: u16,
    /// Its URL (`s3://BUCKET[/PREFIX]@http(s)://HOST[:PORT]`).
    pub url: String,
    /// The access key id it signs with, masked (its first 4 characters).
    pub access_key_id: Option<String>,
    /// Its region, if set.
    pub region: Option<String>,
}

/// `backend` of a `BucketUpdate`: where the bucket's new chunks go.
#[derive(Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct NewBackend {
    /// `s3://BUCKET[/PREFIX]@http(s)://HOST[:PORT]` (or `rados://POOL?conf=FILE`).
    pub url: String,
    /// Access key id for an S3 endpoint.
    #[serde(default)]
    pub access_key_id: Option<String>,
    /// Its secret: stored sealed, never shown back.
    #[serde(default)]
    pub secret_access_key: Option<String>,
    /// Region the endpoint expects in signatures (default `us-east-1`).
    #[serde(default)]
    pub region: Option<String>,
}

impl std::fmt::Debug for NewBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewBackend")
            .field("url", &self.url)
            .field("access_key_id", &self.access_key_id)
            .field("region", &self.region)
            .finish_non_exhaustive()
    }
}

/// A bucket's usage counters (`GET /usage`, and in its settings).
#[derive(Debug, Clone, Serialize, Deserialize, Default, PartialEq, Eq)]
pub struct BucketUsage {
    /// The bucket.
    pub bucket: String,
    /// Current objects (delete markers are not counted).
    pub objects: i64,
    /// Their bytes.
    pub bytes: i64,
    /// Noncurrent versions kept for retention or by versioning.
    pub trash_objects: i64,
    /// Their bytes.
    pub trash_bytes: i64,
}

impl BucketUsage {
    /// The counters of `bucket`.
    pub fn of(bucket: &str, u: kura_storage::Usage) -> BucketUsage {
        BucketUsage {
            bucket: bucket.to_string(),
            objects: u.objects,
            bytes: u.bytes,
            trash_objects: u.trash_objects,
            trash_bytes: u.trash_bytes,
        }
    }
}

/// `POST /usage/recompute`: one bucket's counters before and the scan.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Recomputed {
    /// The counters as they were.
    pub counters: BucketUsage,
    /// What a scan of the rows found (the counters now).
    pub scanned: BucketUsage,
    /// Whether they agreed.
    pub equal: bool,
}

/// `POST /backup`: where to write a backup.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BackupRequest {
    /// A directory on the server's machine that does not exist yet.
    pub dir: String,
}

/// The answer to `POST /backup`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BackupInfo {
    /// Where the backup is.
    pub dir: String,
    /// Chunk files copied.
    pub chunk_files: u64,
    /// Their bytes.
    pub chunk_bytes: u64,
}

/// `POST /buckets/{name}/notify`: registers a webhook.
#[derive(Debug, Clone, Serialize, Deserialize, Default)]
pub struct NewWebhook {
    /// Where entries are POSTed (`http://` or `https://`).
    pub url: String,
    /// Only keys beginning with this.
    #[serde(default)]
    pub prefix: String,
    /// Only these events (`put`, `delete`, …); empty for all.
    #[serde(default)]
    pub events: Vec<String>,
}

/// A webhook as the admin API shows it (the secret only on creation).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct WebhookInfo {
    /// Its id.
    pub id: String,
    /// Where entries are POSTed.
    pub url: String,
    /// Only keys beginning with this.
    pub prefix: String,
    /// Only these events (empty: all).
    pub events: Vec<String>,
    /// The change-feed cursor delivered up to.
    pub cursor: String,
    /// Seconds since the oldest undelivered change committed (0: caught up).
    pub lag_seconds: u64,
    /// The HMAC-SHA256 key of `x-kura-signature`: shown only when created.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
}

/// `PATCH /buckets/{name}`: absent fields stay, `null` clears.
#[derive(Debug, Clone, Serialize, Deserialize, Default)]
pub struct BucketUpdate {
    /// Upload size limit in bytes; `null` returns to the server's limit.
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    pub max_object_size: Option<Option<u64>>,
    /// How long replaced and deleted versions stay recoverable (`24h`, `7d`);
    /// `null` returns to the server's retention.
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    pub retention: Option<Option<String>>,
    /// How long the change log is kept (`30d`), when longer than the
    /// retention; `null` keeps it as long as the retention.
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    pub change_log_retention: Option<Option<String>>,
    /// How long a multipart upload may stay unfinished (`2h`, `7d`); `null`
    /// returns to the server's `--multipart-expiry`.
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    pub multipart_expiry: Option<Option<String>>,
    /// Byte quota on the current objects; `null` removes it.
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    pub quota_bytes: Option<Option<u64>>,
    /// Object-count quota; `null` removes it.
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    pub max_objects: Option<Option<u64>>,
    /// The chunk backend of the bucket's new objects; `null` returns to
    /// the server's. Objects already stored stay where they are.
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    pub backend: Option<Option<NewBackend>>,
}

/// Distinguishes a field set to `null` (`Some(None)`) from an absent one (`None`).
fn present<'de, T: Deserialize<'de>, D: Deserializer<'de>>(
    d: D,
) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

/// An error answered by the admin API.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ApiError {
    /// The S3-style code (`AccessDenied`, `NoSuchKey`, `InvalidArgument`, …).
    pub code: String,
    /// What went wrong.
    pub message: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn null_clears_absent_keeps() {
        let u: BucketUpdate = serde_json::from_str(r#"{"max_object_size":null}"#).unwrap();
        assert_eq!(u.max_object_size, Some(None));
        assert_eq!(u.retention, None);
        let u: BucketUpdate = serde_json::from_str(r#"{"max_object_size":5}"#).unwrap();
        assert_eq!(u.max_object_size, Some(Some(5)));
    }
}
