//! The two date formats SigV4 meets: ISO 8601 basic (`x-amz-date`,
//! `X-Amz-Date`, strings to sign) and HTTP dates (the `Date` header).

use time::{Date, Month, OffsetDateTime, PrimitiveDateTime, Time};

/// Parses `YYYYMMDDTHHMMSSZ` (UTC). Nothing else is accepted: this string is
/// copied into the string to sign, so it must round-trip exactly.
pub(crate) fn parse_amz_date(s: &str) -> Option<OffsetDateTime> {
    let b = s.as_bytes();
    if b.len() != 16 || b[8] != b'T' || b[15] != b'Z' {
        return None;
    }
    let num = |range: std::ops::Range<usize>| -> Option<u32> {
        let part = &b[range];
        if !part.iter().all(u8::is_ascii_digit) {
            return None;
        }
        part.iter()
            .try_fold(0u32, |acc, d| Some(acc * 10 + u32::from(d - b'0')))
    };
    let year = i32::try_from(num(0..4)?).ok()?;
    let month = Month::try_from(u8::try_from(num(4..6)?).ok()?).ok()?;
    let day = u8::try_from(num(6..8)?).ok()?;
    let hour = u8::try_from(num(9..11)?).ok()?;
    let minute = u8::try_from(num(11..13)?).ok()?;
    let second = u8::try_from(num(13..15)?).ok()?;
    let date = Date::from_calendar_date(year, month, day).ok()?;
    let time = Time::from_hms(hour, minute, second).ok()?;
    Some(PrimitiveDateTime::new(date, time).assume_utc())
}

/// Formats a time as `YYYYMMDDTHHMMSSZ` (converted to UTC first).
pub(crate) fn format_amz_date(t: OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    format!(
        "{:04}{:02}{:02}T{:02}{:02}{:02}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

/// Parses an HTTP `Date` header: RFC 1123, RFC 850 or asctime, as HTTP/1.1
/// requires servers to accept all three.
pub(crate) fn parse_http_date(s: &str) -> Option<OffsetDateTime> {
    httpdate::parse_http_date(s.trim())
        .ok()
        .map(OffsetDateTime::from)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amz_date_round_trips() {
        let t = parse_amz_date("20130524T000000Z").unwrap();
        assert_eq!(t.unix_timestamp(), 1_369_353_600);
        assert_eq!(format_amz_date(t), "20130524T000000Z");
        let t = parse_amz_date("20241231T235959Z").unwrap();
        assert_eq!(format_amz_date(t), "20241231T235959Z");
    }

    #[test]
    fn amz_date_rejects_other_shapes() {
        for bad in [
            "",
            "20130524T000000",
            "20130524 000000Z",
            "2013-05-24T00:00:00Z",
            "20131324T000000Z",
            "20130230T000000Z",
            "20130524T250000Z",
            "2013052AT000000Z",
            "+0130524T000000Z",
        ] {
            assert!(parse_amz_date(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn http_dates_in_all_three_formats() {
        let expected = parse_amz_date("19941106T084937Z").unwrap();
        for s in [
            "Sun, 06 Nov 1994 08:49:37 GMT",
            "Sunday, 06-Nov-94 08:49:37 GMT",
            "Sun Nov  6 08:49:37 1994",
        ] {
            assert_eq!(parse_http_date(s), Some(expected), "{s}");
        }
        assert!(parse_http_date("yesterday").is_none());
    }
}
