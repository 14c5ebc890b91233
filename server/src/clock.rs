//! Time conversions, the one place: stored rows keep milliseconds since the
//! epoch; XML wants `OffsetDateTime`, HTTP dates want `SystemTime`.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use time::OffsetDateTime;

/// Milliseconds since the epoch, now.
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// Milliseconds since the epoch as an XML timestamp.
pub fn timestamp(ms: u64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

/// Milliseconds since the epoch as a `SystemTime` (Last-Modified, conditions).
pub fn system_time(ms: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_millis(ms)
}

/// Milliseconds since the epoch in RFC 3339 (JSON answers: admin API, feed).
pub fn rfc3339(ms: u64) -> String {
    timestamp(ms)
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conversions_agree() {
        let ms = 1_700_000_000_123;
        assert_eq!(
            timestamp(ms).unix_timestamp_nanos(),
            i128::from(ms) * 1_000_000
        );
        assert_eq!(
            system_time(ms)
                .duration_since(UNIX_EPOCH)
                .unwrap()
                .as_millis() as u64,
            ms
        );
        assert!(now_ms() > ms);
    }
}
