//! Requests whose timing the test controls, over raw sockets: a download
//! read a little at a time, and an upload that holds its key's write lock
//! for as long as the test wants.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use super::raw::{Raw, RawResponse};

fn head_for(method: &str, path: &str, addr: &str, len: usize, extra: &[(&str, &str)]) -> String {
    let mut r = Raw::new(method, path);
    r.payload_hash = Some("UNSIGNED-PAYLOAD".into());
    r.headers.push(("host".into(), addr.to_string()));
    r.headers.push(("content-length".into(), len.to_string()));
    for (k, v) in extra {
        r.headers.push((k.to_string(), v.to_string()));
    }
    r.sign(addr);
    let mut head = format!("{method} {path} HTTP/1.1\r\n");
    for (k, v) in &r.headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    head
}

fn read_head(reader: &mut BufReader<TcpStream>) -> (u16, Vec<(String, String)>) {
    let mut status_line = String::new();
    reader.read_line(&mut status_line).expect("status line");
    let status: u16 = status_line
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("bad status line {status_line:?}"));
    let mut headers = Vec::new();
    loop {
        let mut line = String::new();
        reader.read_line(&mut line).expect("header line");
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        if let Some((k, v)) = line.split_once(':') {
            headers.push((k.trim().to_ascii_lowercase(), v.trim().to_string()));
        }
    }
    (status, headers)
}

/// A GET whose body the test reads at its own pace.
pub struct SlowGet {
    reader: BufReader<TcpStream>,
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub content_length: usize,
    /// Body bytes read so far.
    pub body: Vec<u8>,
}

impl SlowGet {
    /// Sends a signed GET and reads the response head (not the body). A small
    /// receive buffer keeps the server from racing far ahead of the reader.
    pub fn start(addr: &str, path: &str) -> SlowGet {
        let stream = TcpStream::connect(addr).expect("connect");
        stream
            .set_read_timeout(Some(Duration::from_secs(60)))
            .unwrap();
        let mut w = stream.try_clone().unwrap();
        w.write_all(head_for("GET", path, addr, 0, &[]).as_bytes())
            .unwrap();
        let mut reader = BufReader::with_capacity(64 * 1024, stream);
        let (status, headers) = read_head(&mut reader);
        let content_length = headers
            .iter()
            .find(|(k, _)| k == "content-length")
            .and_then(|(_, v)| v.parse().ok())
            .unwrap_or(0);
        SlowGet {
            reader,
            status,
            headers,
            content_length,
            body: Vec::new(),
        }
    }

    /// Reads `n` more body bytes (fewer at the end of the body).
    pub fn read(&mut self, n: usize) {
        let want = n.min(self.content_length - self.body.len());
        let start = self.body.len();
        self.body.resize(start + want, 0);
        self.reader
            .read_exact(&mut self.body[start..])
            .expect("body bytes");
    }

    /// Reads the rest of the body.
    pub fn finish(mut self) -> Vec<u8> {
        while self.body.len() < self.content_length {
            self.read(1 << 20);
        }
        self.body
    }
}

/// A PUT that has been accepted (its key's write lock is held: the server
/// sent `100 Continue`, which hyper does only once the handler reads the
/// body) and then waits for the test to send the rest.
pub struct SlowPut {
    stream: TcpStream,
    body: Vec<u8>,
    sent: usize,
}

impl SlowPut {
    /// Sends the head with `Expect: 100-continue` and the first `first`
    /// bytes of `body`, after the server's `100 Continue`.
    pub fn start(addr: &str, path: &str, body: Vec<u8>, first: usize) -> SlowPut {
        let stream = TcpStream::connect(addr).expect("connect");
        stream
            .set_read_timeout(Some(Duration::from_secs(60)))
            .unwrap();
        let mut w = stream.try_clone().unwrap();
        let head = head_for("PUT", path, addr, body.len(), &[("expect", "100-continue")]);
        w.write_all(head.as_bytes()).unwrap();
        // Read exactly the interim response, byte by byte, so no later bytes are consumed.
        let mut interim = Vec::new();
        let mut b = [0u8; 1];
        let mut r = stream.try_clone().unwrap();
        while !interim.ends_with(b"\r\n\r\n") {
            r.read_exact(&mut b).expect("interim response");
            interim.push(b[0]);
        }
        let text = String::from_utf8_lossy(&interim);
        assert!(
            text.starts_with("HTTP/1.1 100"),
            "expected 100 Continue, got {text:?}"
        );
        w.write_all(&body[..first]).unwrap();
        SlowPut {
            stream,
            body,
            sent: first,
        }
    }

    /// Sends the rest of the body and reads the final response.
    pub fn finish(mut self) -> RawResponse {
        self.stream.write_all(&self.body[self.sent..]).unwrap();
        let mut reader = BufReader::new(self.stream);
        let (status, headers) = read_head(&mut reader);
        let len = headers
            .iter()
            .find(|(k, _)| k == "content-length")
            .and_then(|(_, v)| v.parse().ok())
            .unwrap_or(0);
        let mut body = vec![0u8; len];
        reader.read_exact(&mut body).unwrap();
        RawResponse {
            status,
            headers,
            body,
        }
    }

    /// Cuts the connection off mid-body (the upload is abandoned).
    pub fn cut_off(self) {
        let _ = self.stream.shutdown(std::net::Shutdown::Both);
    }
}
