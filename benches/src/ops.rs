//! The S3 operations a workload is made of, each returning the object bytes
//! it moved or the error code it met.

use http::Method;
use http_body_util::BodyExt;
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};

use crate::client::{empty, full, xml_text, OpError, S3};
use crate::payload::Pool;

/// Everything but the unreserved characters of RFC 3986 (what SigV4 expects
/// in query values).
const QUERY: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');
/// Like [`QUERY`] but keeps `/` (for keys in paths).
const PATH: &AsciiSet = &QUERY.remove(b'/');

/// What every operation needs.
#[derive(Clone)]
pub struct Ctx {
    pub s3: S3,
    pub pool: Pool,
    pub bucket: String,
    pub size: u64,
    pub verify: bool,
}

impl Ctx {
    fn path(&self, key: &str) -> String {
        format!("/{}/{}", self.bucket, utf8_percent_encode(key, PATH))
    }

    /// PUT `key` with its `size` bytes of pool content.
    pub async fn put(&self, key: &str) -> Result<u64, OpError> {
        let body = self.pool.body(key, self.size).boxed();
        let headers = [("content-length", self.size.to_string())];
        self.s3
            .send_read(Method::PUT, &self.path(key), &headers, body)
            .await?;
        Ok(self.size)
    }

    /// GET `key`, streaming the body; checks its length, and with `verify`
    /// every byte against what was uploaded.
    pub async fn get(&self, key: &str) -> Result<u64, OpError> {
        let resp = self
            .s3
            .send(Method::GET, &self.path(key), &[], empty())
            .await?;
        let mut body = resp.into_body();
        let mut got = 0u64;
        while let Some(frame) = body.frame().await {
            let frame = frame.map_err(|e| OpError(format!("BodyError: {e}")))?;
            if let Some(data) = frame.data_ref() {
                if self.verify && !self.pool.matches(key, got, data) {
                    return Err(OpError("VerifyFailed".into()));
                }
                got += data.len() as u64;
            }
        }
        if got != self.size {
            return Err(OpError("SizeMismatch".into()));
        }
        Ok(got)
    }

    /// DELETE `key`.
    pub async fn delete(&self, key: &str) -> Result<u64, OpError> {
        self.s3
            .send_read(Method::DELETE, &self.path(key), &[], empty())
            .await?;
        Ok(0)
    }

    /// One ListObjectsV2 page under `prefix`; returns the keys on the page
    /// and the token of the next page, if any.
    pub async fn list_page(
        &self,
        prefix: &str,
        max_keys: u32,
        token: Option<&str>,
    ) -> Result<(u64, Option<String>), OpError> {
        let mut q = format!(
            "/{}?list-type=2&max-keys={max_keys}&prefix={}",
            self.bucket,
            utf8_percent_encode(prefix, QUERY)
        );
        if let Some(t) = token {
            q.push_str(&format!(
                "&continuation-token={}",
                utf8_percent_encode(t, QUERY)
            ));
        }
        let (_, body) = self.s3.send_read(Method::GET, &q, &[], empty()).await?;
        let count = xml_text(&body, "KeyCount")
            .and_then(|c| c.parse().ok())
            .ok_or_else(|| OpError("BadListResponse".into()))?;
        let next = xml_text(&body, "NextContinuationToken").filter(|t| !t.is_empty());
        Ok((count, next))
    }

    /// One page of kura's search (`?search&QUERY`, QUERY already encoded);
    /// fails unless the answer lists at least one object, so a query that
    /// matches nothing is not measured as a fast search.
    pub async fn search(&self, query: &str, max_keys: u32) -> Result<u64, OpError> {
        let q = format!("/{}?search&max-keys={max_keys}&{query}", self.bucket);
        let (_, body) = self.s3.send_read(Method::GET, &q, &[], empty()).await?;
        match xml_text(&body, "KeyCount").and_then(|c| c.parse::<u64>().ok()) {
            Some(n) if n > 0 => Ok(0),
            _ => Err(OpError("EmptySearch".into())),
        }
    }

    /// A whole multipart upload of `key`: create, parts of `part_size` one
    /// after another, complete. Aborts the upload if a step fails.
    pub async fn multipart(&self, key: &str, part_size: u64) -> Result<u64, OpError> {
        let path = self.path(key);
        let (_, body) = self
            .s3
            .send_read(Method::POST, &format!("{path}?uploads"), &[], empty())
            .await?;
        let upload_id = xml_text(&body, "UploadId")
            .filter(|id| !id.is_empty())
            .ok_or_else(|| OpError("BadCreateMultipartResponse".into()))?;
        let id_q = utf8_percent_encode(&upload_id, QUERY).to_string();
        let result = self.upload_parts(key, &path, &id_q, part_size).await;
        if result.is_err() {
            let _ = self
                .s3
                .send_read(
                    Method::DELETE,
                    &format!("{path}?uploadId={id_q}"),
                    &[],
                    empty(),
                )
                .await;
        }
        result
    }

    async fn upload_parts(
        &self,
        key: &str,
        path: &str,
        id_q: &str,
        part_size: u64,
    ) -> Result<u64, OpError> {
        let part_size = part_size.max(1);
        let parts = self.size.div_ceil(part_size).max(1);
        let mut complete = String::from("<CompleteMultipartUpload>");
        for n in 1..=parts {
            let start = (n - 1) * part_size;
            let len = part_size.min(self.size - start);
            let body = self.pool.range_body(Pool::offset(key), start, len).boxed();
            let headers = [("content-length", len.to_string())];
            let (head, _) = self
                .s3
                .send_read(
                    Method::PUT,
                    &format!("{path}?partNumber={n}&uploadId={id_q}"),
                    &headers,
                    body,
                )
                .await?;
            let etag = head
                .headers
                .get(http::header::ETAG)
                .and_then(|v| v.to_str().ok())
                .ok_or_else(|| OpError("PartWithoutETag".into()))?;
            complete.push_str(&format!(
                "<Part><PartNumber>{n}</PartNumber><ETag>{}</ETag></Part>",
                quick_xml::escape::escape(etag)
            ));
        }
        complete.push_str("</CompleteMultipartUpload>");
        let (_, body) = self
            .s3
            .send_read(
                Method::POST,
                &format!("{path}?uploadId={id_q}"),
                &[],
                full(complete),
            )
            .await?;
        // CompleteMultipartUpload may fail with a 200 and an error body.
        if let Some(code) = crate::client::error_code(&body) {
            return Err(OpError(code));
        }
        Ok(self.size)
    }
}
