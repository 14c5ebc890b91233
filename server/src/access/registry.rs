//! The run-time access keys, cached in memory and kept in step with RocksDB.
//!
//! Every administrative change is written to the store (synced) and then
//! applied here, so a disabled or rotated key is refused from the next
//! request on. Usage times are collected here and flushed in batches.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;

use ipnet::IpNet;
use kura_protocol::sigv4::SecretKey;
use kura_storage::{AccessKeyRow, Grant, StorageResult, Store};
use parking_lot::{Mutex, RwLock};

use super::ip;

/// One run-time key, ready for request checks.
pub struct KeyEntry {
    /// The access key id.
    pub id: String,
    /// The name given at creation (logged with every request; never the secret).
    pub name: String,
    /// Its secret.
    pub secret: SecretKey,
    /// Whether it may be used.
    pub enabled: bool,
    /// Per-bucket permissions.
    pub grants: Vec<Grant>,
    /// Where requests may come from (empty: anywhere).
    pub allow: Vec<IpNet>,
}

impl KeyEntry {
    fn from_row(id: &str, row: &AccessKeyRow) -> KeyEntry {
        KeyEntry {
            id: id.to_string(),
            name: row.name.clone(),
            secret: SecretKey::new(row.secret.clone()),
            enabled: row.enabled,
            grants: row.grants.clone(),
            // Validated when stored; an unparsable entry (impossible through
            // the API) would allow nothing rather than everything.
            allow: row
                .allow_ips
                .iter()
                .map(|s| ip::parse_net(s).unwrap_or_else(|_| IpNet::from(IpAddr::from([0u8; 16]))))
                .collect(),
        }
    }

    /// Whether a request from `client` may use this key.
    pub fn allows_ip(&self, client: IpAddr) -> bool {
        ip::allowed(client, &self.allow)
    }
}

/// All run-time keys.
#[derive(Default)]
pub struct KeyRegistry {
    keys: RwLock<HashMap<String, Arc<KeyEntry>>>,
    /// Last use per key since the previous flush.
    usage: Mutex<HashMap<String, u64>>,
    /// Serialises administrative read-modify-write cycles.
    admin: Mutex<()>,
    /// The store's access-key generation the map was loaded at (front ends
    /// sharing the engine poll it, see [`KeyRegistry::refresh`]).
    generation: Mutex<Option<Vec<u8>>>,
}

impl KeyRegistry {
    /// Loads every key from the store.
    pub fn load(store: &Store) -> StorageResult<KeyRegistry> {
        let reg = KeyRegistry::default();
        reg.reload(store)?;
        Ok(reg)
    }

    /// Replaces the map with the keys as stored now.
    fn reload(&self, store: &Store) -> StorageResult<()> {
        // Read before the keys: a change committed after this read bumps
        // it again, and the next refresh loads it.
        let generation = store.access_keys_generation()?;
        let mut fresh = HashMap::new();
        for (id, row) in store.access_keys()? {
            fresh.insert(id.clone(), Arc::new(KeyEntry::from_row(&id, &row)));
        }
        *self.keys.write() = fresh;
        *self.generation.lock() = generation;
        Ok(())
    }

    /// Reloads every key if the store's access-key generation moved since
    /// the last load: another front end sharing the metadata engine created,
    /// changed or deleted one. The server calls this every
    /// `KEY_REFRESH_INTERVAL` on a shared engine, which bounds how long a
    /// key revoked elsewhere still works here. `true` if it reloaded.
    pub fn refresh(&self, store: &Store) -> StorageResult<bool> {
        let now = store.access_keys_generation()?;
        if *self.generation.lock() == now {
            return Ok(false);
        }
        let _admin = self.admin.lock();
        self.reload(store)?;
        Ok(true)
    }

    /// The key with this id.
    pub fn get(&self, id: &str) -> Option<Arc<KeyEntry>> {
        self.keys.read().get(id).cloned()
    }

    /// Applies a stored change: the row as now stored, or `None` if deleted.
    pub fn apply(&self, id: &str, row: Option<&AccessKeyRow>) {
        let mut keys = self.keys.write();
        match row {
            Some(row) => {
                keys.insert(id.to_string(), Arc::new(KeyEntry::from_row(id, row)));
            }
            None => {
                keys.remove(id);
                self.usage.lock().remove(id);
            }
        }
    }

    /// Held by the admin API around each read-modify-write of a key.
    pub fn admin_lock(&self) -> parking_lot::MutexGuard<'_, ()> {
        self.admin.lock()
    }

    /// Notes that `id` was just used (memory only; see [`KeyRegistry::flush`]).
    pub fn touch(&self, id: &str, now_ms: u64) {
        self.usage.lock().insert(id.to_string(), now_ms);
    }

    /// Last use not yet flushed, for listings.
    pub fn pending_usage(&self, id: &str) -> Option<u64> {
        self.usage.lock().get(id).copied()
    }

    /// Writes the collected usage times in one unsynced batch.
    pub fn flush(&self, store: &Store) -> StorageResult<usize> {
        let batch: Vec<(String, u64)> = self.usage.lock().drain().collect();
        if batch.is_empty() {
            return Ok(0);
        }
        store.record_key_usage(&batch)?;
        Ok(batch.len())
    }
}
