//! HTTP dates (RFC 9110 §5.6.7): parsing all three historic formats,
//! formatting the one that should be sent.

use std::time::{Duration, SystemTime, UNIX_EPOCH};
use time::{Date, Month, OffsetDateTime, PrimitiveDateTime, Time};

const SHORT_DAYS: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
const LONG_DAYS: [&str; 7] = [
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
    "Sunday",
];
const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// Parses an HTTP date in any of the three formats RFC 9110 requires a
/// recipient to accept:
///
/// - IMF-fixdate (RFC 1123): `Sun, 06 Nov 1994 08:49:37 GMT`
/// - RFC 850: `Sunday, 06-Nov-94 08:49:37 GMT`
/// - asctime: `Sun Nov  6 08:49:37 1994`
///
/// Returns `None` for anything else; callers of conditional headers must
/// then ignore the header, as RFC 9110 says.
///
/// Lenient where being strict helps nobody: runs of whitespace count as
/// one, and the weekday must be a real day name but need not agree with the
/// date (Go's `http.ParseTime`, which MinIO uses, ignores it too). Month and
/// day names are case-sensitive, as the grammar says. RFC 850 two-digit
/// years 70–99 are 19xx and 00–69 are 20xx: a fixed pivot keeps this a pure
/// function, and only pre-2000 software sends that format anyway.
pub fn parse_http_date(s: &str) -> Option<SystemTime> {
    let tokens: Vec<&str> = s.split_ascii_whitespace().collect();
    let (year, month, day, clock) = match tokens.as_slice() {
        // IMF-fixdate: `Sun, 06 Nov 1994 08:49:37 GMT`
        [wday, day, month, year, clock, "GMT"] => {
            short_day_comma(wday)?;
            (
                digits(year, 4, 4)?,
                month_of(month)?,
                digits(day, 1, 2)?,
                *clock,
            )
        }
        // RFC 850: `Sunday, 06-Nov-94 08:49:37 GMT`
        [wday, dmy, clock, "GMT"] => {
            let name = wday.strip_suffix(',')?;
            LONG_DAYS.contains(&name).then_some(())?;
            let mut parts = dmy.split('-');
            let (day, month, yy) = (parts.next()?, parts.next()?, parts.next()?);
            if parts.next().is_some() {
                return None;
            }
            let yy = digits(yy, 2, 2)?;
            let year = if yy < 70 { 2000 + yy } else { 1900 + yy };
            (year, month_of(month)?, digits(day, 1, 2)?, *clock)
        }
        // asctime: `Sun Nov  6 08:49:37 1994`
        [wday, month, day, clock, year] => {
            SHORT_DAYS.contains(wday).then_some(())?;
            (
                digits(year, 4, 4)?,
                month_of(month)?,
                digits(day, 1, 2)?,
                *clock,
            )
        }
        _ => return None,
    };
    let (h, m, sec) = parse_clock(clock)?;
    let date = Date::from_calendar_date(i32::from(year), month, u8::try_from(day).ok()?).ok()?;
    let time = Time::from_hms(h, m, sec).ok()?;
    let secs = PrimitiveDateTime::new(date, time)
        .assume_utc()
        .unix_timestamp();
    from_unix_secs(secs)
}

/// Formats `t` as an IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`), the only
/// format RFC 9110 allows a sender to generate.
///
/// Sub-second precision is dropped (truncated towards the past), since the
/// format has none. Times outside years 0000–9999 are clamped to the nearest
/// representable second rather than panicking: the format has four year
/// digits, and such a time can only come from a bug or a hostile input.
pub fn format_http_date(t: SystemTime) -> String {
    // Year 0000-01-01 and 9999-12-31T23:59:59 in Unix seconds.
    const MIN: i64 = -62_167_219_200;
    const MAX: i64 = 253_402_300_799;
    let secs = unix_secs(t).clamp(MIN, MAX);
    let dt = OffsetDateTime::from_unix_timestamp(secs).unwrap_or(OffsetDateTime::UNIX_EPOCH);
    format!(
        "{}, {:02} {} {:04} {:02}:{:02}:{:02} GMT",
        SHORT_DAYS[dt.weekday().number_days_from_monday() as usize],
        dt.day(),
        MONTHS[dt.month() as usize - 1],
        dt.year(),
        dt.hour(),
        dt.minute(),
        dt.second(),
    )
}

/// Whole seconds since the Unix epoch, rounded towards the past (so a time
/// half a second before the epoch is -1). HTTP dates carry whole seconds;
/// comparisons with them must drop the fraction the same way the formatted
/// `Last-Modified` did.
pub(crate) fn unix_secs(t: SystemTime) -> i64 {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
        Err(e) => {
            let d = e.duration();
            let whole = i64::try_from(d.as_secs()).unwrap_or(i64::MAX);
            if d.subsec_nanos() > 0 {
                whole.saturating_neg().saturating_sub(1)
            } else {
                whole.saturating_neg()
            }
        }
    }
}

fn from_unix_secs(secs: i64) -> Option<SystemTime> {
    if secs >= 0 {
        UNIX_EPOCH.checked_add(Duration::from_secs(secs.unsigned_abs()))
    } else {
        UNIX_EPOCH.checked_sub(Duration::from_secs(secs.unsigned_abs()))
    }
}

fn short_day_comma(token: &str) -> Option<()> {
    let name = token.strip_suffix(',')?;
    SHORT_DAYS.contains(&name).then_some(())
}

fn month_of(name: &str) -> Option<Month> {
    let i = MONTHS.iter().position(|m| *m == name)?;
    Month::try_from(i as u8 + 1).ok()
}

/// Parses `min..=max` ASCII digits. Avoids `str::parse`, which would also
/// accept a leading `+`.
fn digits(s: &str, min: usize, max: usize) -> Option<u16> {
    if s.len() < min || s.len() > max || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(s.bytes().fold(0, |n, b| n * 10 + u16::from(b - b'0')))
}

/// `HH:MM:SS`, two digits each. Range checks happen in `Time::from_hms`.
fn parse_clock(s: &str) -> Option<(u8, u8, u8)> {
    let mut parts = s.split(':');
    let h = digits(parts.next()?, 2, 2)?;
    let m = digits(parts.next()?, 2, 2)?;
    let sec = digits(parts.next()?, 2, 2)?;
    if parts.next().is_some() {
        return None;
    }
    Some((h as u8, m as u8, sec as u8))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 1994-11-06T08:49:37Z, the RFC's example.
    const RFC_EXAMPLE: u64 = 784_111_777;

    fn at(secs: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(secs)
    }

    #[test]
    fn parses_all_three_formats() {
        let want = Some(at(RFC_EXAMPLE));
        assert_eq!(parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT"), want);
        assert_eq!(parse_http_date("Sunday, 06-Nov-94 08:49:37 GMT"), want);
        assert_eq!(parse_http_date("Sun Nov  6 08:49:37 1994"), want);
        assert_eq!(parse_http_date("Sun Nov 06 08:49:37 1994"), want);
    }

    #[test]
    fn rfc850_two_digit_year_pivot() {
        assert_eq!(
            parse_http_date("Thursday, 01-Jan-70 00:00:00 GMT"),
            Some(UNIX_EPOCH)
        );
        assert_eq!(
            parse_http_date("Saturday, 01-Jan-00 00:00:00 GMT"),
            Some(at(946_684_800))
        );
        assert_eq!(
            parse_http_date("Tuesday, 31-Dec-69 23:59:59 GMT"),
            parse_http_date("Tue, 31 Dec 2069 23:59:59 GMT")
        );
    }

    #[test]
    fn tolerates_whitespace_and_wrong_weekday() {
        let want = Some(at(RFC_EXAMPLE));
        assert_eq!(parse_http_date("  Sun,  06 Nov 1994 08:49:37 GMT "), want);
        // 1994-11-06 was a Sunday; a mismatched day name is ignored.
        assert_eq!(parse_http_date("Mon, 06 Nov 1994 08:49:37 GMT"), want);
    }

    #[test]
    fn rejects_malformed_dates() {
        for s in [
            "",
            " ",
            "garbage",
            "Sun, 06 Nov 1994 08:49:37 UTC",
            "Sun, 06 Nov 1994 08:49:37",
            "Sun 06 Nov 1994 08:49:37 GMT",
            "Xyz, 06 Nov 1994 08:49:37 GMT",
            "sun, 06 nov 1994 08:49:37 GMT",
            "Sun, 06 Foo 1994 08:49:37 GMT",
            "Sun, 31 Feb 1994 08:49:37 GMT",
            "Sun, 00 Nov 1994 08:49:37 GMT",
            "Sun, 06 Nov 1994 24:00:00 GMT",
            "Sun, 06 Nov 1994 08:60:00 GMT",
            "Sun, 06 Nov 1994 8:49:37 GMT",
            "Sun, 06 Nov 1994 08:49:37:00 GMT",
            "Sun, +6 Nov 1994 08:49:37 GMT",
            "Sun, 06 Nov 94 08:49:37 GMT",
            "Sun, 06 Nov 19940 08:49:37 GMT",
            "Sun, 999999999999999999999 Nov 1994 08:49:37 GMT",
            "Sunday, 06-Nov-1994 08:49:37 GMT",
            "Sunday, 06-Nov-94-1 08:49:37 GMT",
            "Sun, 06-Nov-94 08:49:37 GMT",
            "Sun Nov  6 08:49:37 94",
            "1994-11-06T08:49:37Z",
            "784111777",
            "Sün, 06 Nov 1994 08:49:37 GMT",
        ] {
            assert_eq!(parse_http_date(s), None, "{s:?}");
        }
    }

    #[test]
    fn leap_days() {
        assert!(parse_http_date("Thu, 29 Feb 2024 00:00:00 GMT").is_some());
        assert!(parse_http_date("Wed, 29 Feb 2023 00:00:00 GMT").is_none());
        assert!(parse_http_date("Tue, 29 Feb 2000 00:00:00 GMT").is_some());
        assert!(parse_http_date("Thu, 29 Feb 1900 00:00:00 GMT").is_none());
    }

    #[test]
    fn pre_epoch_and_far_future_dates_parse() {
        assert_eq!(
            parse_http_date("Wed, 31 Dec 1969 23:59:59 GMT"),
            UNIX_EPOCH.checked_sub(Duration::from_secs(1))
        );
        assert_eq!(
            parse_http_date("Fri, 31 Dec 9999 23:59:59 GMT"),
            Some(at(253_402_300_799))
        );
    }

    #[test]
    fn formats_imf_fixdate() {
        assert_eq!(
            format_http_date(at(RFC_EXAMPLE)),
            "Sun, 06 Nov 1994 08:49:37 GMT"
        );
        assert_eq!(
            format_http_date(UNIX_EPOCH),
            "Thu, 01 Jan 1970 00:00:00 GMT"
        );
        // Sub-seconds are truncated, not rounded.
        assert_eq!(
            format_http_date(at(RFC_EXAMPLE) + Duration::from_millis(999)),
            "Sun, 06 Nov 1994 08:49:37 GMT"
        );
    }

    #[test]
    fn format_clamps_instead_of_panicking() {
        assert_eq!(
            format_http_date(at(u64::MAX / 4)),
            "Fri, 31 Dec 9999 23:59:59 GMT"
        );
        let before = UNIX_EPOCH - Duration::from_millis(500);
        assert_eq!(format_http_date(before), "Wed, 31 Dec 1969 23:59:59 GMT");
    }

    #[test]
    fn format_then_parse_round_trips() {
        for secs in [0, 1, RFC_EXAMPLE, 951_782_400, 1_700_000_000, 4_102_444_800] {
            let s = format_http_date(at(secs));
            assert_eq!(parse_http_date(&s), Some(at(secs)), "{s}");
        }
    }

    #[test]
    fn unix_secs_floors() {
        assert_eq!(unix_secs(at(5) + Duration::from_millis(900)), 5);
        assert_eq!(unix_secs(UNIX_EPOCH - Duration::from_millis(1)), -1);
        assert_eq!(unix_secs(UNIX_EPOCH - Duration::from_secs(2)), -2);
    }
}
