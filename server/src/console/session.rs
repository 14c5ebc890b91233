//! Console sessions: an access key and its secret, checked once at sign-in,
//! are exchanged for a random session id held in an HttpOnly cookie. The
//! server keeps the session (never the secret): which key it is, a
//! fingerprint of the secret it was opened with (a rotated secret ends
//! every session opened with the old one), its CSRF token, and when it began
//! and was last used (idle and absolute expiry).
//!
//! Sign-in failures are counted per client address: past
//! [`MAX_FAILURES`] in [`FAILURE_WINDOW`], further attempts from that
//! address are refused until the window ends, so secrets cannot be guessed
//! through the console faster than through signed S3 requests.

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use rand::RngCore;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// The session cookie's name.
pub const COOKIE: &str = "kura_console";
/// Failed sign-ins one address may make per window.
pub const MAX_FAILURES: u32 = 10;
/// The window failed sign-ins are counted in.
pub const FAILURE_WINDOW: Duration = Duration::from_secs(60);
/// Sessions kept at most; the oldest go first beyond it.
const MAX_SESSIONS: usize = 10_000;

/// One signed-in browser.
#[derive(Clone)]
pub struct Session {
    /// The access key it acts as.
    pub access_key_id: String,
    /// SHA-256 of the secret it was opened with.
    pub secret_print: [u8; 32],
    /// The token every state-changing request must echo in `x-kura-csrf`.
    pub csrf: String,
    created: Instant,
    last_seen: Instant,
}

/// Why a session was not found.
#[derive(Debug, PartialEq, Eq)]
pub enum Missing {
    /// No cookie, or an unknown id.
    None,
    /// It existed but expired (idle or absolute).
    Expired,
}

struct Failures {
    count: u32,
    since: Instant,
}

/// Every open session, and the sign-in failure counters.
pub struct Sessions {
    idle: Duration,
    lifetime: Duration,
    map: Mutex<HashMap<[u8; 32], Session>>,
    failures: Mutex<HashMap<IpAddr, Failures>>,
}

/// A random token as lowercase hex.
fn token() -> String {
    let mut b = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut b);
    hex::encode(b)
}

/// SHA-256 of a text: session ids are stored hashed, secrets as fingerprints.
pub fn print(s: &str) -> [u8; 32] {
    Sha256::digest(s.as_bytes()).into()
}

/// Whether two texts are equal, in time independent of where they differ.
pub fn same(a: &str, b: &str) -> bool {
    print(a).ct_eq(&print(b)).into()
}

impl Sessions {
    /// Sessions that end after `idle` without use, or `lifetime` after sign-in.
    pub fn new(idle: Duration, lifetime: Duration) -> Sessions {
        Sessions {
            idle,
            lifetime,
            map: Mutex::new(HashMap::new()),
            failures: Mutex::new(HashMap::new()),
        }
    }

    /// The absolute lifetime (the cookie's Max-Age).
    pub fn lifetime(&self) -> Duration {
        self.lifetime
    }

    /// Opens a session for a key whose secret was just checked; returns its id.
    pub fn open(&self, access_key_id: &str, secret: &str) -> (String, Session) {
        let id = token();
        let now = Instant::now();
        let session = Session {
            access_key_id: access_key_id.to_string(),
            secret_print: print(secret),
            csrf: token(),
            created: now,
            last_seen: now,
        };
        let mut map = self.map.lock();
        if map.len() >= MAX_SESSIONS {
            map.retain(|_, s| !self.expired(s, now));
            if map.len() >= MAX_SESSIONS {
                if let Some(oldest) = map.iter().min_by_key(|(_, s)| s.created).map(|(k, _)| *k) {
                    map.remove(&oldest);
                }
            }
        }
        map.insert(print(&id), session.clone());
        (id, session)
    }

    fn expired(&self, s: &Session, now: Instant) -> bool {
        now.duration_since(s.last_seen) > self.idle || now.duration_since(s.created) > self.lifetime
    }

    /// The session of `id`, marked as used now; an expired one is removed.
    pub fn touch(&self, id: &str) -> Result<Session, Missing> {
        let key = print(id);
        let now = Instant::now();
        let mut map = self.map.lock();
        let Some(s) = map.get_mut(&key) else {
            return Err(Missing::None);
        };
        if self.expired(s, now) {
            map.remove(&key);
            return Err(Missing::Expired);
        }
        s.last_seen = now;
        Ok(s.clone())
    }

    /// Ends the session of `id` (sign-out, or its key no longer valid).
    pub fn close(&self, id: &str) {
        self.map.lock().remove(&print(id));
    }

    /// How long `ip` must wait before trying to sign in again (`None`: it may now).
    pub fn blocked(&self, ip: IpAddr) -> Option<Duration> {
        let failures = self.failures.lock();
        let f = failures.get(&ip)?;
        let age = f.since.elapsed();
        (f.count >= MAX_FAILURES && age < FAILURE_WINDOW).then(|| FAILURE_WINDOW - age)
    }

    /// Counts a failed sign-in from `ip`.
    pub fn failed(&self, ip: IpAddr) {
        let now = Instant::now();
        let mut failures = self.failures.lock();
        if failures.len() > MAX_SESSIONS {
            failures.retain(|_, f| now.duration_since(f.since) < FAILURE_WINDOW);
        }
        let f = failures.entry(ip).or_insert(Failures {
            count: 0,
            since: now,
        });
        if now.duration_since(f.since) >= FAILURE_WINDOW {
            *f = Failures {
                count: 0,
                since: now,
            };
        }
        f.count += 1;
    }

    /// Forgets the failures of `ip` after a successful sign-in.
    pub fn succeeded(&self, ip: IpAddr) {
        self.failures.lock().remove(&ip);
    }
}

/// The session id in a request's `Cookie` headers.
pub fn cookie_id(headers: &http::HeaderMap) -> Option<String> {
    headers
        .get_all(http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE)
        .map(|(_, value)| value.to_string())
}

/// The `Set-Cookie` value opening (`Some(id)`) or clearing (`None`) the session.
pub fn set_cookie(id: Option<&str>, secure: bool, max_age: Duration) -> String {
    let (value, age) = match id {
        Some(id) => (id, max_age.as_secs()),
        None => ("", 0),
    };
    let secure = if secure { "; Secure" } else { "" };
    format!(
        "{COOKIE}={value}; Path=/_kura/console/; Max-Age={age}; HttpOnly; SameSite=Strict{secure}"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn idle_and_absolute_expiry() {
        let s = Sessions::new(Duration::from_millis(200), Duration::from_secs(60));
        let (id, opened) = s.open("K", "secret");
        assert_eq!(s.touch(&id).unwrap().csrf, opened.csrf);
        std::thread::sleep(Duration::from_millis(400));
        assert_eq!(s.touch(&id).err(), Some(Missing::Expired));
        assert_eq!(
            s.touch(&id).err(),
            Some(Missing::None),
            "removed once expired"
        );

        let s = Sessions::new(Duration::from_secs(60), Duration::from_millis(1000));
        let (id, _) = s.open("K", "secret");
        for _ in 0..2 {
            std::thread::sleep(Duration::from_millis(200));
            assert!(s.touch(&id).is_ok());
        }
        std::thread::sleep(Duration::from_millis(800));
        assert_eq!(
            s.touch(&id).err(),
            Some(Missing::Expired),
            "use does not extend the lifetime"
        );
    }

    #[test]
    fn failures_block_an_address_for_the_window() {
        let s = Sessions::new(Duration::from_secs(60), Duration::from_secs(60));
        let ip: IpAddr = "192.0.2.1".parse().unwrap();
        let other: IpAddr = "192.0.2.2".parse().unwrap();
        for _ in 0..MAX_FAILURES - 1 {
            s.failed(ip);
        }
        assert!(s.blocked(ip).is_none());
        s.failed(ip);
        assert!(s.blocked(ip).is_some());
        assert!(s.blocked(other).is_none());
    }

    #[test]
    fn cookies() {
        let mut h = http::HeaderMap::new();
        h.insert(
            http::header::COOKIE,
            "a=b; kura_console=abc; c=d".parse().unwrap(),
        );
        assert_eq!(cookie_id(&h).as_deref(), Some("abc"));
        let c = set_cookie(Some("abc"), true, Duration::from_secs(60));
        assert!(c.contains("HttpOnly") && c.contains("SameSite=Strict") && c.contains("Secure"));
        assert!(!set_cookie(None, false, Duration::ZERO).contains("Secure"));
        assert!(same("x", "x") && !same("x", "y"));
    }
}
