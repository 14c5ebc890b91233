//! The `aws-chunked` body of streaming uploads, decoded incrementally.
//!
//! ```text
//! hex-size[;chunk-signature=<64 hex>]\r\n <data> \r\n      (repeated)
//! 0[;chunk-signature=<64 hex>]\r\n                        (final chunk)
//! name:value\r\n ... [x-amz-trailer-signature:<64 hex>\r\n] (trailer mode)
//! \r\n
//! ```
//!
//! Memory stays bounded whatever the chunk size: data is handed out as it
//! arrives and hashed on the way, and each chunk signature is checked when
//! its data ends. Data may therefore be handed out before its signature is
//! checked; the server must only commit after [`ChunkedDecoder::finish`].

use std::collections::VecDeque;

use bytes::Bytes;
use sha2::{Digest, Sha256};

use super::{ChunkSigner, Signature};
use crate::error::{S3Error, S3ErrorCode, S3Result};

/// Longest chunk header or trailer line (without its line end).
const MAX_LINE: usize = 4 * 1024;
/// Largest trailer section, line ends included.
const MAX_TRAILER: usize = 16 * 1024;

fn malformed(detail: &str) -> S3Error {
    S3Error::invalid_request(format!("Malformed aws-chunked body: {detail}"))
}

#[derive(Debug, Clone, Copy)]
enum State {
    /// Expecting a chunk header line.
    ChunkHeader,
    /// Inside chunk data.
    Data { remaining: u64 },
    /// Expecting the line end that closes chunk data.
    DataEnd,
    /// After the final chunk, no trailer: expecting the closing line end.
    FinalEnd,
    /// After the final chunk: reading trailer lines.
    Trailer,
    /// The body is complete.
    Done,
}

/// Incremental decoder for `aws-chunked` bodies (see the module docs).
///
/// Feed it with [`push`](Self::push), drain decoded data with
/// [`next_payload`](Self::next_payload) until it returns `None`, repeat;
/// at the end of the raw body call [`finish`](Self::finish).
#[derive(Debug)]
pub struct ChunkedDecoder {
    signer: Option<ChunkSigner>,
    trailer: bool,
    state: State,
    input: VecDeque<Bytes>,
    /// The line being read, while it spans several pushes.
    line: Vec<u8>,
    chunk_signature: Option<Signature>,
    chunk_hash: Sha256,
    decoded_len: u64,
    trailers: Vec<(String, String)>,
    trailer_signature: Option<Signature>,
    trailer_bytes: usize,
    /// An empty line already skipped before the first trailer line.
    trailer_blank_skipped: bool,
}

impl ChunkedDecoder {
    /// `signer`: `Some` for `STREAMING-AWS4-HMAC-SHA256-PAYLOAD[-TRAILER]`
    /// (every chunk must carry `;chunk-signature=`), `None` for
    /// `STREAMING-UNSIGNED-PAYLOAD-TRAILER`. `trailer`: whether trailing
    /// headers are expected (and, when signed, an `x-amz-trailer-signature`).
    pub fn new(signer: Option<ChunkSigner>, trailer: bool) -> Self {
        ChunkedDecoder {
            signer,
            trailer,
            state: State::ChunkHeader,
            input: VecDeque::new(),
            line: Vec::new(),
            chunk_signature: None,
            chunk_hash: Sha256::new(),
            decoded_len: 0,
            trailers: Vec::new(),
            trailer_signature: None,
            trailer_bytes: 0,
            trailer_blank_skipped: false,
        }
    }

    /// Appends raw body bytes as they arrive from the socket.
    pub fn push(&mut self, data: Bytes) {
        if !data.is_empty() {
            self.input.push_back(data);
        }
    }

    /// Decoded payload bytes handed out so far (compare with
    /// `x-amz-decoded-content-length`).
    pub fn decoded_len(&self) -> u64 {
        self.decoded_len
    }

    /// Whether the whole body, final chunk and trailer included, has been read.
    pub fn is_done(&self) -> bool {
        matches!(self.state, State::Done)
    }

    /// Next piece of decoded payload available from what was pushed, or
    /// `None` if more input is needed (or the body is complete). Errors on
    /// malformed framing or a bad chunk signature.
    pub fn next_payload(&mut self) -> S3Result<Option<Bytes>> {
        loop {
            match self.state {
                State::ChunkHeader => {
                    let Some(line) = self.take_line()? else {
                        return Ok(None);
                    };
                    self.start_chunk(&line)?;
                }
                State::Data { remaining } => {
                    let Some(front) = self.input.front_mut() else {
                        return Ok(None);
                    };
                    let n = usize::try_from(remaining).map_or(front.len(), |r| r.min(front.len()));
                    let piece = front.split_to(n);
                    if front.is_empty() {
                        self.input.pop_front();
                    }
                    // Unsigned streams have nothing to check the hash against.
                    if self.signer.is_some() {
                        self.chunk_hash.update(&piece);
                    }
                    self.decoded_len += n as u64;
                    let remaining = remaining - n as u64;
                    self.state = State::Data { remaining };
                    if remaining == 0 {
                        self.end_chunk_data()?;
                        self.state = State::DataEnd;
                    }
                    return Ok(Some(piece));
                }
                State::DataEnd => {
                    let Some(line) = self.take_line()? else {
                        return Ok(None);
                    };
                    if !line.is_empty() {
                        return Err(malformed("chunk data is longer than its declared size"));
                    }
                    self.state = State::ChunkHeader;
                }
                State::FinalEnd => {
                    let Some(line) = self.take_line()? else {
                        return Ok(None);
                    };
                    if !line.is_empty() {
                        return Err(malformed("trailing headers sent but not declared"));
                    }
                    self.state = State::Done;
                }
                State::Trailer => {
                    let Some(line) = self.take_line()? else {
                        return Ok(None);
                    };
                    self.trailer_bytes += line.len() + 2;
                    if self.trailer_bytes > MAX_TRAILER {
                        return Err(malformed("trailer section too large"));
                    }
                    if !line.is_empty() {
                        self.trailer_line(&line)?;
                    } else if self.no_trailer_yet() && !self.trailer_blank_skipped {
                        // The AWS SDKs put the trailers right after
                        // `0;chunk-signature=..\r\n`; other clients first end
                        // the empty final chunk's data with `\r\n`. Accept both.
                        self.trailer_blank_skipped = true;
                    } else {
                        self.end_trailer()?;
                    }
                }
                State::Done => {
                    // Tolerate stray line ends after the body; nothing else.
                    while let Some(front) = self.input.pop_front() {
                        if front.iter().any(|&b| b != b'\r' && b != b'\n') {
                            return Err(malformed("data after the end of the body"));
                        }
                    }
                    return Ok(None);
                }
            }
        }
    }

    /// At the end of the raw body: errors (`IncompleteBody`) if the final
    /// chunk or trailer is incomplete; returns the trailing headers (names
    /// lowercased, `x-amz-trailer-signature` removed), after verifying the
    /// trailer signature when signed.
    ///
    /// Lenient where clients differ: the line end closing the body may be
    /// missing. The caller must still check that every header announced in
    /// `x-amz-trailer` is present.
    pub fn finish(mut self) -> S3Result<Vec<(String, String)>> {
        if self.next_payload()?.is_some() {
            return Err(S3Error::with_message(
                S3ErrorCode::InternalError,
                "aws-chunked payload not drained before finish",
            ));
        }
        let at_line_start = self.line.is_empty();
        // Something after the final chunk, so the body was not cut right there.
        let trailer_started = !self.no_trailer_yet() || self.trailer_blank_skipped;
        match self.state {
            State::Done => {}
            State::FinalEnd if at_line_start => {}
            State::Trailer if at_line_start && trailer_started => self.end_trailer()?,
            _ => {
                return Err(S3Error::with_message(
                    S3ErrorCode::IncompleteBody,
                    "The aws-chunked body ended before its final chunk and trailer.",
                ))
            }
        }
        Ok(self.trailers)
    }

    fn no_trailer_yet(&self) -> bool {
        self.trailers.is_empty() && self.trailer_signature.is_none()
    }

    /// Takes the next line (without `\r\n`, or a bare `\n` as some clients
    /// send) if complete, keeping a partial one for later.
    fn take_line(&mut self) -> S3Result<Option<Vec<u8>>> {
        while let Some(front) = self.input.front_mut() {
            let newline = front.iter().position(|&b| b == b'\n');
            let take = newline.map_or(front.len(), |p| p + 1);
            // + 2: the line end is not part of the limit.
            if self.line.len() + take > MAX_LINE + 2 {
                return Err(malformed("line too long"));
            }
            self.line.extend_from_slice(&front.split_to(take));
            if front.is_empty() {
                self.input.pop_front();
            }
            if newline.is_some() {
                let mut line = std::mem::take(&mut self.line);
                line.pop();
                if line.last() == Some(&b'\r') {
                    line.pop();
                }
                return Ok(Some(line));
            }
        }
        Ok(None)
    }

    fn start_chunk(&mut self, line: &[u8]) -> S3Result<()> {
        let line = std::str::from_utf8(line).map_err(|_| malformed("chunk header is not ASCII"))?;
        let mut fields = line.split(';');
        let size = fields.next().unwrap_or_default().trim();
        if size.is_empty() || size.len() > 16 || !size.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(malformed("invalid chunk size"));
        }
        let size = u64::from_str_radix(size, 16).map_err(|_| malformed("invalid chunk size"))?;
        let mut signature = None;
        for ext in fields.map(str::trim) {
            // Other chunk extensions are legal HTTP; ignore them.
            if let Some(sig) = ext.strip_prefix("chunk-signature=") {
                if signature.replace(sig).is_some() {
                    return Err(malformed("chunk-signature given twice"));
                }
            }
        }
        if self.signer.is_some() {
            let sig = signature.ok_or_else(|| malformed("chunk without chunk-signature"))?;
            let sig = Signature::from_hex(sig)
                .filter(|_| sig.len() == 64)
                .ok_or_else(|| malformed("chunk-signature is not 64 hex characters"))?;
            self.chunk_signature = Some(sig);
        }
        self.chunk_hash = Sha256::new();
        if size == 0 {
            self.end_chunk_data()?;
            self.state = if self.trailer {
                State::Trailer
            } else {
                State::FinalEnd
            };
        } else {
            self.state = State::Data { remaining: size };
        }
        Ok(())
    }

    fn end_chunk_data(&mut self) -> S3Result<()> {
        if let (Some(signer), Some(claimed)) = (&mut self.signer, self.chunk_signature.take()) {
            let hash = std::mem::take(&mut self.chunk_hash).finalize();
            signer.verify_chunk(&hash, &claimed)?;
        }
        Ok(())
    }

    fn trailer_line(&mut self, line: &[u8]) -> S3Result<()> {
        let line = std::str::from_utf8(line).map_err(|_| malformed("trailer is not UTF-8"))?;
        let (name, value) = line
            .split_once(':')
            .ok_or_else(|| malformed("trailer line without ':'"))?;
        let name = name.trim().to_ascii_lowercase();
        let value = value.trim();
        if name.is_empty() {
            return Err(malformed("trailer line without a name"));
        }
        if name == "x-amz-trailer-signature" {
            // Meaningless in an unsigned stream: ignore it there.
            if self.signer.is_some() {
                let sig = Signature::from_hex(value)
                    .filter(|_| value.len() == 64)
                    .ok_or_else(|| malformed("x-amz-trailer-signature is not 64 hex characters"))?;
                if self.trailer_signature.replace(sig).is_some() {
                    return Err(malformed("x-amz-trailer-signature given twice"));
                }
            }
        } else if self.trailer_signature.is_some() {
            return Err(malformed("trailer after x-amz-trailer-signature"));
        } else {
            self.trailers.push((name, value.to_string()));
        }
        Ok(())
    }

    fn end_trailer(&mut self) -> S3Result<()> {
        if let Some(signer) = &self.signer {
            match &self.trailer_signature {
                // Nothing to protect; the server checks declared trailers exist.
                None if self.trailers.is_empty() => {}
                None => return Err(malformed("trailer without x-amz-trailer-signature")),
                Some(claimed) => {
                    let canonical = |t: &[(String, String)]| -> Vec<u8> {
                        t.iter()
                            .flat_map(|(k, v)| format!("{k}:{v}\n").into_bytes())
                            .collect()
                    };
                    // The AWS SDKs sign trailers sorted by name; accept the
                    // order received too, for clients that sign as they send.
                    let mut sorted = self.trailers.clone();
                    sorted.sort();
                    let ok = signer.trailer_matches(&canonical(&self.trailers), claimed)
                        || signer.trailer_matches(&canonical(&sorted), claimed);
                    if !ok {
                        return Err(S3ErrorCode::SignatureDoesNotMatch.into());
                    }
                }
            }
        }
        self.state = State::Done;
        Ok(())
    }
}

#[cfg(test)]
#[path = "chunked_tests.rs"]
mod tests;
