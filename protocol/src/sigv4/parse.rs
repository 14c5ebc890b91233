//! Extracting the claimed credentials from a request: the `Authorization`
//! header or the presigned query. Nothing is verified here; only shape.

use http::header::{AUTHORIZATION, DATE};

use super::canonical::decode_query;
use super::datetime::{format_amz_date, parse_amz_date, parse_http_date};
use super::{
    PayloadMode, RequestParts, Scope, Signature, SignedRequest, ALGORITHM, STREAMING_PAYLOAD,
    STREAMING_PAYLOAD_TRAILER, STREAMING_UNSIGNED_PAYLOAD_TRAILER, UNSIGNED_PAYLOAD,
};
use crate::error::{S3Error, S3ErrorCode, S3Result};

/// Longest presigned expiry S3 allows: seven days.
const MAX_EXPIRES: u32 = 604_800;

const CREDENTIAL_SHAPE: &str =
    "the Credential is mal-formed; expecting \"<YOUR-AKID>/YYYYMMDD/REGION/SERVICE/aws4_request\".";

/// Which way the request is authenticated; decides the error codes used.
#[derive(Clone, Copy)]
enum Via {
    Header,
    Query,
}

impl Via {
    fn malformed(self, detail: &str) -> S3Error {
        match self {
            Via::Header => S3Error::with_message(
                S3ErrorCode::AuthorizationHeaderMalformed,
                format!("The authorization header is malformed; {detail}"),
            ),
            Via::Query => S3Error::with_message(
                S3ErrorCode::AuthorizationQueryParametersError,
                format!("Error parsing the X-Amz-Credential parameter; {detail}"),
            ),
        }
    }
}

fn use_sigv4() -> S3Error {
    S3Error::invalid_request("Please use AWS4-HMAC-SHA256.")
}

fn bad_date() -> S3Error {
    S3Error::with_message(
        S3ErrorCode::AccessDenied,
        "AWS authentication requires a valid Date or x-amz-date header",
    )
}

fn query_error(message: &str) -> S3Error {
    S3Error::with_message(S3ErrorCode::AuthorizationQueryParametersError, message)
}

/// Parses the `Authorization` header (`AWS4-HMAC-SHA256 ...`) or the
/// presigned query (`X-Amz-Algorithm=AWS4-HMAC-SHA256&...`).
///
/// `Ok(None)` means an anonymous request: neither is present. Other
/// signature versions are refused with `InvalidRequest`, as S3 does in
/// regions that only speak SigV4.
pub fn parse_request_auth(parts: &RequestParts<'_>) -> S3Result<Option<SignedRequest>> {
    let query = decode_query(parts.raw_query);
    let has = |name: &[u8]| query.iter().any(|(k, _)| k.as_slice() == name);
    let header = parts.headers.get(AUTHORIZATION);
    let presigned = has(b"X-Amz-Algorithm");
    match header {
        Some(_) if presigned || has(b"X-Amz-Signature") => Err(S3Error::invalid_argument(
            "Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter, \
             Signature query string parameter or the Authorization header should be specified",
        )),
        Some(value) => {
            let value = value
                .to_str()
                .map_err(|_| Via::Header.malformed("it is not ASCII."))?;
            parse_header_auth(parts, value).map(Some)
        }
        None if presigned => parse_presigned(parts, &query).map(Some),
        // SigV2 query authentication.
        None if has(b"AWSAccessKeyId") || has(b"Signature") => Err(use_sigv4()),
        None => Ok(None),
    }
}

/// `AKID/YYYYMMDD/region/service/aws4_request` → access key and scope.
fn parse_credential(s: &str, via: Via) -> S3Result<(String, Scope)> {
    // From the right, so only the access key could ever contain a '/'.
    let mut it = s.rsplitn(5, '/');
    let mut next = || it.next().filter(|p| !p.is_empty());
    let terminator = next();
    let service = next();
    let region = next();
    let date = next();
    let access_key = next();
    let (Some("aws4_request"), Some(service), Some(region), Some(date), Some(access_key)) =
        (terminator, service, region, date, access_key)
    else {
        return Err(via.malformed(CREDENTIAL_SHAPE));
    };
    if date.len() != 8 || !date.bytes().all(|b| b.is_ascii_digit()) {
        return Err(via.malformed(CREDENTIAL_SHAPE));
    }
    let scope = Scope {
        date: date.to_string(),
        region: region.to_string(),
        service: service.to_string(),
    };
    Ok((access_key.to_string(), scope))
}

/// `host;range;x-amz-date` → names. They must be lowercase, valid header
/// names, and include `host` (the request is otherwise replayable against
/// any endpoint that shares the key).
fn parse_signed_headers(s: &str, via: Via) -> S3Result<Vec<String>> {
    let names: Vec<String> = s.split(';').map(str::to_string).collect();
    for name in &names {
        let valid = http::HeaderName::from_bytes(name.as_bytes())
            .is_ok_and(|h| h.as_str() == name.as_str());
        if !valid {
            return Err(via.malformed(&format!("invalid signed header name '{name}'.")));
        }
    }
    if !names.iter().any(|n| n == "host") {
        return Err(via.malformed("'host' must be a signed header."));
    }
    Ok(names)
}

fn parse_signature(s: &str, via: Via) -> S3Result<Signature> {
    Signature::from_hex(s)
        .filter(|_| s.len() == 64)
        .ok_or_else(|| via.malformed("the signature must be 64 hexadecimal characters."))
}

/// Maps an `x-amz-content-sha256` value to the payload mode it declares.
fn payload_mode(value: &str, presigned: bool) -> S3Result<PayloadMode> {
    let mode = match value {
        UNSIGNED_PAYLOAD => PayloadMode::Unsigned,
        STREAMING_PAYLOAD if !presigned => PayloadMode::StreamingSigned { trailer: false },
        STREAMING_PAYLOAD_TRAILER if !presigned => PayloadMode::StreamingSigned { trailer: true },
        STREAMING_UNSIGNED_PAYLOAD_TRAILER if !presigned => PayloadMode::StreamingUnsignedTrailer,
        hash if hash.len() == 64 => {
            let mut digest = [0u8; 32];
            hex::decode_to_slice(hash, &mut digest).map_err(|_| bad_content_sha256())?;
            PayloadMode::Sha256(digest)
        }
        _ => return Err(bad_content_sha256()),
    };
    Ok(mode)
}

fn bad_content_sha256() -> S3Error {
    S3Error::invalid_argument(
        "x-amz-content-sha256 must be UNSIGNED-PAYLOAD, STREAMING-AWS4-HMAC-SHA256-PAYLOAD, \
         STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER, STREAMING-UNSIGNED-PAYLOAD-TRAILER \
         or a valid sha256 value.",
    )
}

fn header_str<'a>(parts: &RequestParts<'a>, name: &str) -> Option<&'a str> {
    parts.headers.get(name).and_then(|v| v.to_str().ok())
}

fn parse_header_auth(parts: &RequestParts<'_>, value: &str) -> S3Result<SignedRequest> {
    let via = Via::Header;
    let value = value.trim();
    let (algorithm, rest) = value.split_once(' ').unwrap_or((value, ""));
    if algorithm != ALGORITHM {
        return Err(use_sigv4());
    }

    let (mut credential, mut signed_headers, mut signature) = (None, None, None);
    // Clients differ on ", " versus ","; accept both and stray spaces.
    for component in rest.split(',').map(str::trim).filter(|c| !c.is_empty()) {
        let (key, val) = component
            .split_once('=')
            .ok_or_else(|| via.malformed(&format!("'{component}' is not key=value.")))?;
        let slot = match key.trim() {
            "Credential" => &mut credential,
            "SignedHeaders" => &mut signed_headers,
            "Signature" => &mut signature,
            other => return Err(via.malformed(&format!("unknown component '{other}'."))),
        };
        if slot.replace(val.trim()).is_some() {
            return Err(via.malformed(&format!("'{}' appears twice.", key.trim())));
        }
    }
    let (Some(credential), Some(signed_headers), Some(signature)) =
        (credential, signed_headers, signature)
    else {
        return Err(via.malformed("Credential, SignedHeaders and Signature are all required."));
    };
    let (access_key_id, scope) = parse_credential(credential, via)?;
    let signed_headers = parse_signed_headers(signed_headers, via)?;
    let signature = parse_signature(signature, via)?;

    // x-amz-date wins over Date (browsers cannot set Date, so SDKs use x-amz-date).
    let (time, amz_date, time_from_date_header) = match parts.headers.get("x-amz-date") {
        Some(v) => {
            let s = v.to_str().map_err(|_| bad_date())?;
            let t = parse_amz_date(s).ok_or_else(bad_date)?;
            (t, s.to_string(), false)
        }
        None => {
            let t = header_str(parts, DATE.as_str())
                .and_then(parse_http_date)
                .ok_or_else(bad_date)?;
            (t, format_amz_date(t), true)
        }
    };
    if amz_date[..8] != scope.date {
        return Err(via.malformed("Invalid credential date. Date is not the same as X-Amz-Date."));
    }

    let payload_hash = match parts.headers.get("x-amz-content-sha256") {
        None => {
            return Err(S3Error::invalid_request(
                "Missing required header for this request: x-amz-content-sha256",
            ))
        }
        Some(v) => v.to_str().map_err(|_| bad_content_sha256())?.to_string(),
    };
    let payload = payload_mode(&payload_hash, false)?;

    Ok(SignedRequest {
        access_key_id,
        scope,
        signed_headers,
        signature,
        amz_date,
        time,
        expires: None,
        time_from_date_header,
        payload_hash,
        payload,
    })
}

fn parse_presigned(
    parts: &RequestParts<'_>,
    query: &[(Vec<u8>, Vec<u8>)],
) -> S3Result<SignedRequest> {
    let via = Via::Query;
    // The first occurrence; a repeated auth parameter is ambiguous, so refused.
    let param = |name: &str| -> S3Result<Option<String>> {
        let mut found = query
            .iter()
            .filter(|(k, _)| k.as_slice() == name.as_bytes());
        let Some((_, v)) = found.next() else {
            return Ok(None);
        };
        if found.next().is_some() {
            return Err(query_error(&format!("{name} appears more than once.")));
        }
        String::from_utf8(v.clone())
            .map(Some)
            .map_err(|_| query_error(&format!("{name} is not valid UTF-8.")))
    };

    let algorithm = param("X-Amz-Algorithm")?.unwrap_or_default();
    if algorithm != ALGORITHM {
        return Err(query_error(
            "X-Amz-Algorithm only supports \"AWS4-HMAC-SHA256\"",
        ));
    }
    let (Some(credential), Some(date), Some(expires), Some(signed_headers), Some(signature)) = (
        param("X-Amz-Credential")?,
        param("X-Amz-Date")?,
        param("X-Amz-Expires")?,
        param("X-Amz-SignedHeaders")?,
        param("X-Amz-Signature")?,
    ) else {
        return Err(query_error(
            "Query-string authentication version 4 requires the X-Amz-Algorithm, \
             X-Amz-Credential, X-Amz-Signature, X-Amz-Date, X-Amz-SignedHeaders, \
             and X-Amz-Expires parameters.",
        ));
    };
    let (access_key_id, scope) = parse_credential(&credential, via)?;
    let signed_headers = parse_signed_headers(&signed_headers, via)?;
    let signature = parse_signature(&signature, via)?;
    let time = parse_amz_date(&date).ok_or_else(|| {
        query_error("X-Amz-Date must be in the ISO8601 Long Format \"yyyyMMdd'T'HHmmss'Z'\"")
    })?;
    if date[..8] != scope.date {
        return Err(via.malformed("Invalid credential date. Date is not the same as X-Amz-Date."));
    }
    let expires = parse_expires(&expires)?;

    // Some presigners (the JS SDK v3) sign X-Amz-Content-Sha256 into the
    // query; like MinIO, fall back to the header, then to UNSIGNED-PAYLOAD.
    let payload_hash = match param("X-Amz-Content-Sha256")? {
        Some(v) => v,
        None => header_str(parts, "x-amz-content-sha256")
            .unwrap_or(UNSIGNED_PAYLOAD)
            .to_string(),
    };
    let payload = payload_mode(&payload_hash, true)?;

    Ok(SignedRequest {
        access_key_id,
        scope,
        signed_headers,
        signature,
        amz_date: date,
        time,
        expires: Some(expires),
        time_from_date_header: false,
        payload_hash,
        payload,
    })
}

fn parse_expires(s: &str) -> S3Result<u32> {
    let n: i64 = s
        .parse()
        .map_err(|_| query_error("X-Amz-Expires should be a number"))?;
    if n < 0 {
        return Err(query_error("X-Amz-Expires must be non-negative"));
    }
    if n == 0 || n > i64::from(MAX_EXPIRES) {
        return Err(query_error(
            "X-Amz-Expires must be less than a week (in seconds) that is 604800",
        ));
    }
    u32::try_from(n).map_err(|_| query_error("X-Amz-Expires should be a number"))
}
