//! S3 error codes, their HTTP statuses and default messages: the one table.
//!
//! Every failure a client sees is an [`S3Error`]. Handlers pick a code and,
//! where it helps, a more specific message; the status and the XML body come
//! from here so they cannot drift apart.

use http::StatusCode;
use std::fmt;

macro_rules! s3_error_codes {
    ($($name:ident => ($status:expr, $msg:expr),)*) => {
        /// An S3 error code, as it appears in `<Code>`.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum S3ErrorCode {
            $(
                #[doc = $msg]
                $name,
            )*
        }

        impl S3ErrorCode {
            /// Every code, in table order (the error reference is checked against it).
            pub const ALL: &'static [S3ErrorCode] = &[$(S3ErrorCode::$name,)*];

            /// The code as S3 spells it in `<Code>`.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(S3ErrorCode::$name => stringify!($name),)*
                }
            }

            /// The HTTP status S3 answers this code with.
            pub fn status(self) -> StatusCode {
                match self {
                    $(S3ErrorCode::$name => $status,)*
                }
            }

            /// S3's default message for this code.
            pub fn default_message(self) -> &'static str {
                match self {
                    $(S3ErrorCode::$name => $msg,)*
                }
            }
        }
    };
}

s3_error_codes! {
    AccessDenied => (StatusCode::FORBIDDEN, "Access Denied"),
    AuthorizationHeaderMalformed => (StatusCode::BAD_REQUEST, "The authorization header is malformed."),
    AuthorizationQueryParametersError => (StatusCode::BAD_REQUEST, "Error parsing the X-Amz-Credential parameter."),
    BadRequest => (StatusCode::BAD_REQUEST, "Bad Request"),
    BadDigest => (StatusCode::BAD_REQUEST, "The Content-MD5 or checksum value that you specified did not match what the server received."),
    BucketAlreadyExists => (StatusCode::CONFLICT, "The requested bucket name is not available. Please select a different name and try again."),
    BucketAlreadyOwnedByYou => (StatusCode::CONFLICT, "Your previous request to create the named bucket succeeded and you already own it."),
    BucketNotEmpty => (StatusCode::CONFLICT, "The bucket you tried to delete is not empty."),
    EntityTooLarge => (StatusCode::PAYLOAD_TOO_LARGE, "Your proposed upload exceeds the maximum allowed object size."),
    EntityTooSmall => (StatusCode::BAD_REQUEST, "Your proposed upload is smaller than the minimum allowed object size."),
    InsufficientStorage => (StatusCode::INSUFFICIENT_STORAGE, "The server does not have enough free disk space to store this upload. Retry later."),
    IllegalVersioningConfigurationException => (StatusCode::BAD_REQUEST, "The versioning configuration specified in the request is invalid."),
    IncompleteBody => (StatusCode::BAD_REQUEST, "You did not provide the number of bytes specified by the Content-Length HTTP header."),
    InternalError => (StatusCode::INTERNAL_SERVER_ERROR, "We encountered an internal error. Please try again."),
    InvalidAccessKeyId => (StatusCode::FORBIDDEN, "The AWS access key Id you provided does not exist in our records."),
    InvalidArgument => (StatusCode::BAD_REQUEST, "Invalid Argument"),
    InvalidBucketName => (StatusCode::BAD_REQUEST, "The specified bucket is not valid."),
    InvalidDigest => (StatusCode::BAD_REQUEST, "The Content-MD5 you specified is not valid."),
    InvalidPart => (StatusCode::BAD_REQUEST, "One or more of the specified parts could not be found. The part may not have been uploaded, or the specified entity tag may not match the part's entity tag."),
    InvalidPartOrder => (StatusCode::BAD_REQUEST, "The list of parts was not in ascending order. Parts must be ordered by part number."),
    InvalidPartNumber => (StatusCode::RANGE_NOT_SATISFIABLE, "The requested partnumber is not satisfiable"),
    InvalidRange => (StatusCode::RANGE_NOT_SATISFIABLE, "The requested range is not satisfiable"),
    InvalidRequest => (StatusCode::BAD_REQUEST, "Invalid Request"),
    InvalidTag => (StatusCode::BAD_REQUEST, "The tag provided was not a valid tag. This error can occur if the tag did not pass input validation."),
    InvalidURI => (StatusCode::BAD_REQUEST, "Couldn't parse the specified URI."),
    KeyTooLongError => (StatusCode::BAD_REQUEST, "Your key is too long"),
    LinkExpired => (StatusCode::FORBIDDEN, "This link has expired."),
    LinkRevoked => (StatusCode::FORBIDDEN, "This link has been revoked by its owner."),
    LinkUsedUp => (StatusCode::FORBIDDEN, "This link accepts no more files: its file count or size budget is used up."),
    MalformedXML => (StatusCode::BAD_REQUEST, "The XML you provided was not well-formed or did not validate against our published schema."),
    MalformedPOSTRequest => (StatusCode::BAD_REQUEST, "The body of your POST request is not well-formed multipart/form-data."),
    MaxPostPreDataLengthExceededError => (StatusCode::BAD_REQUEST, "Your POST request fields preceding the upload file were too large."),
    MetadataTooLarge => (StatusCode::BAD_REQUEST, "Your metadata headers exceed the maximum allowed metadata size."),
    MethodNotAllowed => (StatusCode::METHOD_NOT_ALLOWED, "The specified method is not allowed against this resource."),
    MissingContentLength => (StatusCode::LENGTH_REQUIRED, "You must provide the Content-Length HTTP header."),
    MissingSecurityHeader => (StatusCode::BAD_REQUEST, "Your request is missing a required header."),
    NoSuchBucket => (StatusCode::NOT_FOUND, "The specified bucket does not exist"),
    NoSuchCORSConfiguration => (StatusCode::NOT_FOUND, "The CORS configuration does not exist"),
    NoSuchKey => (StatusCode::NOT_FOUND, "The specified key does not exist."),
    NoSuchTagSet => (StatusCode::NOT_FOUND, "The TagSet does not exist"),
    NoSuchLink => (StatusCode::NOT_FOUND, "The link does not exist."),
    NoSuchLifecycleConfiguration => (StatusCode::NOT_FOUND, "The lifecycle configuration does not exist"),
    NoSuchUpload => (StatusCode::NOT_FOUND, "The specified multipart upload does not exist. The upload ID might be invalid, or the multipart upload might have been aborted or completed."),
    NoSuchVersion => (StatusCode::NOT_FOUND, "The specified version does not exist."),
    NotImplemented => (StatusCode::NOT_IMPLEMENTED, "A header you provided implies functionality that is not implemented."),
    NotModified => (StatusCode::NOT_MODIFIED, "Not Modified"),
    OperationAborted => (StatusCode::CONFLICT, "A conflicting operation is currently in progress against this resource. Please try again."),
    PreconditionFailed => (StatusCode::PRECONDITION_FAILED, "At least one of the pre-conditions you specified did not hold"),
    RequestTimeTooSkewed => (StatusCode::FORBIDDEN, "The difference between the request time and the current time is too large."),
    QuotaExceeded => (StatusCode::FORBIDDEN, "The bucket's quota would be exceeded by this upload."),
    RequestTimeout => (StatusCode::BAD_REQUEST, "Your socket connection to the server was not read from or written to within the timeout period."),
    ServiceUnavailable => (StatusCode::SERVICE_UNAVAILABLE, "Please reduce your request rate."),
    SignatureDoesNotMatch => (StatusCode::FORBIDDEN, "The request signature we calculated does not match the signature you provided. Check your key and signing method."),
    XAmzContentSHA256Mismatch => (StatusCode::BAD_REQUEST, "The provided 'x-amz-content-sha256' header does not match what was computed."),
}

/// An error answered to an S3 client: a code, a message, and what it is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct S3Error {
    /// The S3 code; decides the HTTP status.
    pub code: S3ErrorCode,
    /// Human-readable message (S3's default unless a handler was more specific).
    pub message: String,
    /// Extra response headers this error carries (e.g. `Retry-After`, `Content-Range`).
    pub headers: Vec<(&'static str, String)>,
}

impl S3Error {
    /// An error with S3's default message for `code`.
    pub fn new(code: S3ErrorCode) -> Self {
        S3Error {
            code,
            message: code.default_message().to_string(),
            headers: Vec::new(),
        }
    }

    /// An error with a specific message.
    pub fn with_message(code: S3ErrorCode, message: impl Into<String>) -> Self {
        S3Error {
            code,
            message: message.into(),
            headers: Vec::new(),
        }
    }

    /// Adds a response header to the error.
    pub fn header(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }

    /// The HTTP status of this error.
    pub fn status(&self) -> StatusCode {
        self.code.status()
    }

    /// Shorthand for `InvalidArgument` with a message.
    pub fn invalid_argument(message: impl Into<String>) -> Self {
        Self::with_message(S3ErrorCode::InvalidArgument, message)
    }

    /// Shorthand for `InvalidRequest` with a message.
    pub fn invalid_request(message: impl Into<String>) -> Self {
        Self::with_message(S3ErrorCode::InvalidRequest, message)
    }

    /// Renders the S3 XML error body.
    pub fn to_xml(&self, resource: &str, request_id: &str) -> String {
        let mut out = String::with_capacity(256);
        out.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>");
        out.push_str(self.code.as_str());
        out.push_str("</Code><Message>");
        out.push_str(&crate::xml::escape(&self.message));
        out.push_str("</Message><Resource>");
        out.push_str(&crate::xml::escape(resource));
        out.push_str("</Resource><RequestId>");
        out.push_str(&crate::xml::escape(request_id));
        out.push_str("</RequestId></Error>");
        out
    }
}

impl From<S3ErrorCode> for S3Error {
    fn from(code: S3ErrorCode) -> Self {
        S3Error::new(code)
    }
}

impl fmt::Display for S3Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code.as_str(), self.message)
    }
}

impl std::error::Error for S3Error {}

/// Result type of protocol functions.
pub type S3Result<T> = Result<T, S3Error>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_have_s3_statuses() {
        assert_eq!(S3ErrorCode::NoSuchKey.status(), StatusCode::NOT_FOUND);
        assert_eq!(S3ErrorCode::NoSuchKey.as_str(), "NoSuchKey");
        assert_eq!(S3ErrorCode::MissingContentLength.status().as_u16(), 411);
        assert_eq!(S3ErrorCode::InvalidRange.status().as_u16(), 416);
        assert_eq!(S3ErrorCode::OperationAborted.status().as_u16(), 409);
    }

    #[test]
    fn error_xml_is_escaped() {
        let e = S3Error::with_message(S3ErrorCode::NoSuchKey, "no <key> & such");
        let xml = e.to_xml("/b/a&b", "REQ1");
        assert_eq!(
            xml,
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>NoSuchKey</Code>\
             <Message>no &lt;key&gt; &amp; such</Message><Resource>/b/a&amp;b</Resource>\
             <RequestId>REQ1</RequestId></Error>"
        );
    }
}
