//! Byte ranges: the `Range` request header (RFC 9110 §14) and
//! `x-amz-copy-source-range` for UploadPartCopy.

use crate::error::{S3Error, S3ErrorCode, S3Result};

/// A non-empty, satisfiable byte range of an object, both ends inclusive as
/// in `Content-Range`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ByteRange {
    /// Offset of the first byte.
    pub start: u64,
    /// Offset of the last byte (inclusive).
    pub end_inclusive: u64,
}

impl ByteRange {
    /// Number of bytes in the range.
    ///
    /// Saturates at `u64::MAX` for the one range whose length does not fit
    /// (`0..=u64::MAX`), which the parsers here never produce.
    // A ByteRange is never empty, so an `is_empty` would always say false.
    #[allow(clippy::len_without_is_empty)]
    pub fn len(&self) -> u64 {
        (self.end_inclusive - self.start).saturating_add(1)
    }
}

/// Parses a `Range` header against an object of `size` bytes.
///
/// Accepts `bytes=a-b`, `bytes=a-` and `bytes=-n` (the last `n` bytes);
/// the unit is case-insensitive and whitespace around the spec is allowed.
///
/// - `Ok(Some(r))`: serve `r` with 206. A last byte past the end is clamped
///   to `size - 1`, and a suffix longer than the object means all of it.
/// - `Ok(None)`: serve the whole object with 200. This is the answer for a
///   syntactically invalid header (RFC 9110 §14.2 says to ignore it, e.g.
///   `bytes=5-2` or `items=0-1`) and for more than one range: S3 does not
///   serve `multipart/byteranges` and answers such requests with the whole
///   object.
/// - `Err(InvalidRange)` (416) carrying `Content-Range: bytes */{size}`: the
///   range is valid but unsatisfiable — it starts at or past the end, it is
///   a suffix of 0 bytes, or the object is empty (S3 refuses every range of
///   an empty object, even a suffix one).
///
/// Numbers too large for `u64` are not errors: such a first byte is past any
/// end (416), such a last byte or suffix length is clamped to the object.
pub fn parse_range(header: &str, size: u64) -> S3Result<Option<ByteRange>> {
    let Some(spec) = strip_bytes_unit(header) else {
        return Ok(None);
    };
    // RFC 9110 list syntax allows empty elements (`bytes=0-1,`); only real
    // elements count towards "more than one range".
    let mut specs = spec.split(',').map(str::trim).filter(|s| !s.is_empty());
    let (Some(spec), None) = (specs.next(), specs.next()) else {
        return Ok(None);
    };
    let Some((first, last)) = spec.split_once('-') else {
        return Ok(None);
    };
    let unsatisfiable = || {
        Err(S3Error::new(S3ErrorCode::InvalidRange)
            .header("Content-Range", format!("bytes */{size}")))
    };
    let range = match (first.is_empty(), last.is_empty()) {
        // `bytes=-n`: the final n bytes.
        (true, false) => {
            let Some(n) = parse_pos(last) else {
                return Ok(None);
            };
            if n == 0 || size == 0 {
                return unsatisfiable();
            }
            ByteRange {
                start: size - n.min(size),
                end_inclusive: size - 1,
            }
        }
        // `bytes=a-` or `bytes=a-b`.
        (false, open) => {
            let Some(start) = parse_pos(first) else {
                return Ok(None);
            };
            let end = if open {
                u64::MAX
            } else {
                match parse_pos(last) {
                    Some(end) if end >= start => end,
                    _ => return Ok(None),
                }
            };
            if start >= size {
                return unsatisfiable();
            }
            ByteRange {
                start,
                end_inclusive: end.min(size - 1),
            }
        }
        (true, true) => return Ok(None),
    };
    Ok(Some(range))
}

/// The `Content-Range` value for a 206 response: `bytes a-b/size`.
pub fn content_range(r: &ByteRange, size: u64) -> String {
    format!("bytes {}-{}/{}", r.start, r.end_inclusive, size)
}

/// Parses `x-amz-copy-source-range` (UploadPartCopy) against a source object
/// of `size` bytes.
///
/// Stricter than [`parse_range`], as S3 is: only `bytes=first-last`, and both
/// ends must lie inside the object — nothing is clamped or ignored. A
/// malformed value and an out-of-bounds one are both `InvalidArgument`
/// (400), with the messages S3 uses; S3 does not answer 416 here because the
/// range refers to the copy source, not to the response.
pub fn parse_copy_source_range(v: &str, size: u64) -> S3Result<ByteRange> {
    let malformed = || {
        S3Error::invalid_argument(
            "The x-amz-copy-source-range value must be of the form bytes=first-last \
             where first and last are the zero-based offsets of the first and last bytes to copy",
        )
    };
    let spec = strip_bytes_unit(v).ok_or_else(malformed)?;
    let (first, last) = spec.split_once('-').ok_or_else(malformed)?;
    let start = parse_pos(first).ok_or_else(malformed)?;
    let end = parse_pos(last).ok_or_else(malformed)?;
    if end < start {
        return Err(malformed());
    }
    if end >= size {
        return Err(S3Error::invalid_argument(format!(
            "Range specified is not valid for source object of size: {size}"
        )));
    }
    Ok(ByteRange {
        start,
        end_inclusive: end,
    })
}

/// The range spec after a case-insensitive `bytes=`, or `None` for another
/// unit (which RFC 9110 says to ignore).
fn strip_bytes_unit(header: &str) -> Option<&str> {
    let header = header.trim();
    let unit = header.get(..6)?;
    unit.eq_ignore_ascii_case("bytes=")
        .then(|| header[6..].trim())
}

/// A non-empty run of ASCII digits, saturating at `u64::MAX` (see
/// [`parse_range`] for why overflow is not a syntax error).
fn parse_pos(s: &str) -> Option<u64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(s.bytes().fold(0u64, |n, b| {
        n.saturating_mul(10).saturating_add(u64::from(b - b'0'))
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(start: u64, end_inclusive: u64) -> Option<ByteRange> {
        Some(ByteRange {
            start,
            end_inclusive,
        })
    }

    fn unsatisfiable(header: &str, size: u64) {
        let err = parse_range(header, size).unwrap_err();
        assert_eq!(err.code, S3ErrorCode::InvalidRange, "{header}");
        assert_eq!(err.status().as_u16(), 416);
        assert_eq!(
            err.headers,
            vec![("Content-Range", format!("bytes */{size}"))],
            "{header}"
        );
    }

    #[test]
    fn closed_open_and_suffix_ranges() {
        assert_eq!(parse_range("bytes=0-9", 100), Ok(r(0, 9)));
        assert_eq!(parse_range("bytes=10-", 100), Ok(r(10, 99)));
        assert_eq!(parse_range("bytes=-10", 100), Ok(r(90, 99)));
        assert_eq!(parse_range("bytes=0-0", 100), Ok(r(0, 0)));
        assert_eq!(parse_range("bytes=0-", 100), Ok(r(0, 99)));
    }

    #[test]
    fn last_byte_edges() {
        assert_eq!(parse_range("bytes=99-99", 100), Ok(r(99, 99)));
        assert_eq!(parse_range("bytes=99-", 100), Ok(r(99, 99)));
        assert_eq!(parse_range("bytes=0-99", 100), Ok(r(0, 99)));
        unsatisfiable("bytes=100-", 100);
        unsatisfiable("bytes=100-200", 100);
    }

    #[test]
    fn clamps_end_and_suffix() {
        assert_eq!(parse_range("bytes=50-1000", 100), Ok(r(50, 99)));
        assert_eq!(parse_range("bytes=-1000", 100), Ok(r(0, 99)));
        assert_eq!(parse_range("bytes=-100", 100), Ok(r(0, 99)));
        assert_eq!(parse_range("bytes=-1", 1), Ok(r(0, 0)));
    }

    #[test]
    fn zero_byte_object_refuses_every_range() {
        unsatisfiable("bytes=0-", 0);
        unsatisfiable("bytes=0-0", 0);
        unsatisfiable("bytes=-5", 0);
        // But a malformed header is still ignored, not 416.
        assert_eq!(parse_range("bytes=5-2", 0), Ok(None));
    }

    #[test]
    fn suffix_of_zero_is_unsatisfiable() {
        unsatisfiable("bytes=-0", 100);
        unsatisfiable("bytes=-000", 100);
    }

    #[test]
    fn invalid_syntax_is_ignored() {
        for h in [
            "",
            "bytes=",
            "bytes=-",
            "bytes=5-2",
            "bytes=a-b",
            "bytes=1-a",
            "bytes=+1-2",
            "bytes=1-+2",
            "bytes=--1",
            "bytes=1--2",
            "bytes= 1 - 2",
            "bytes 0-1",
            "bytes:0-1",
            "items=0-1",
            "0-1",
            "bytes=0x10-0x20",
            "bytes=١-٢",
            "bÿtes=0-1",
        ] {
            assert_eq!(parse_range(h, 100), Ok(None), "{h:?}");
        }
    }

    #[test]
    fn unit_and_whitespace_leniency() {
        assert_eq!(parse_range("BYTES=0-9", 100), Ok(r(0, 9)));
        assert_eq!(parse_range("  bytes= 0-9 ", 100), Ok(r(0, 9)));
        assert_eq!(parse_range("bytes=0-9,", 100), Ok(r(0, 9)));
        assert_eq!(parse_range("bytes=, 0-9", 100), Ok(r(0, 9)));
    }

    #[test]
    fn multiple_ranges_are_ignored() {
        assert_eq!(parse_range("bytes=0-1,5-6", 100), Ok(None));
        assert_eq!(parse_range("bytes=0-1, -5", 100), Ok(None));
        // Even when one of them is unsatisfiable.
        assert_eq!(parse_range("bytes=0-1,500-600", 100), Ok(None));
    }

    #[test]
    fn huge_numbers_saturate() {
        let huge = "99999999999999999999999999999";
        unsatisfiable(&format!("bytes={huge}-"), 100);
        unsatisfiable(&format!("bytes={huge}-{huge}"), 100);
        assert_eq!(parse_range(&format!("bytes=10-{huge}"), 100), Ok(r(10, 99)));
        assert_eq!(parse_range(&format!("bytes=-{huge}"), 100), Ok(r(0, 99)));
        assert_eq!(
            parse_range(&format!("bytes=0-{}", u64::MAX), u64::MAX),
            Ok(r(0, u64::MAX - 1))
        );
        assert_eq!(
            parse_range("bytes=-1", u64::MAX),
            Ok(r(u64::MAX - 1, u64::MAX - 1))
        );
    }

    #[test]
    fn len_and_content_range() {
        let range = ByteRange {
            start: 10,
            end_inclusive: 19,
        };
        assert_eq!(range.len(), 10);
        assert_eq!(content_range(&range, 100), "bytes 10-19/100");
        let one = ByteRange {
            start: 5,
            end_inclusive: 5,
        };
        assert_eq!(one.len(), 1);
        let all = ByteRange {
            start: 0,
            end_inclusive: u64::MAX,
        };
        assert_eq!(all.len(), u64::MAX);
    }

    #[test]
    fn copy_source_range_valid() {
        assert_eq!(
            parse_copy_source_range("bytes=0-9", 100),
            Ok(r(0, 9).unwrap())
        );
        assert_eq!(
            parse_copy_source_range("bytes=99-99", 100),
            Ok(r(99, 99).unwrap())
        );
        assert_eq!(
            parse_copy_source_range("bytes=0-99", 100),
            Ok(r(0, 99).unwrap())
        );
    }

    #[test]
    fn copy_source_range_rejects_other_forms() {
        for v in [
            "",
            "bytes=",
            "bytes=0-",
            "bytes=-10",
            "bytes=5-2",
            "bytes=0-1,2-3",
            "items=0-1",
            "0-1",
            "bytes=+0-1",
            "bytes=a-b",
        ] {
            let err = parse_copy_source_range(v, 100).unwrap_err();
            assert_eq!(err.code, S3ErrorCode::InvalidArgument, "{v:?}");
            assert!(err.message.contains("bytes=first-last"), "{v:?}");
        }
    }

    #[test]
    fn copy_source_range_must_fit_the_source() {
        for (v, size) in [
            ("bytes=0-100", 100),
            ("bytes=100-100", 100),
            ("bytes=0-0", 0),
            ("bytes=0-99999999999999999999999", 100),
        ] {
            let err = parse_copy_source_range(v, size).unwrap_err();
            assert_eq!(err.code, S3ErrorCode::InvalidArgument, "{v:?}");
            assert_eq!(
                err.message,
                format!("Range specified is not valid for source object of size: {size}")
            );
        }
    }
}
