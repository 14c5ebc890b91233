//! The receiving end of kura's webhook deliveries, for test receivers.

use std::io::{BufRead, BufReader, Read};
use std::net::TcpStream;

/// One delivery: its change number, signature header and body.
pub struct Delivery {
    pub seq: u64,
    pub signature: String,
    pub body: Vec<u8>,
}

/// Reads one delivery request (head and body) from `reader`; `None` if
/// the connection ended before the whole body came.
pub fn read_delivery(reader: &mut BufReader<TcpStream>) -> Option<Delivery> {
    let (mut len, mut seq, mut signature) = (0usize, 0u64, String::new());
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            break;
        }
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        if let Some((k, v)) = line.split_once(':') {
            match k.to_ascii_lowercase().as_str() {
                "content-length" => len = v.trim().parse().expect("content-length"),
                "x-kura-seq" => seq = v.trim().parse().expect("x-kura-seq"),
                "x-kura-signature" => signature = v.trim().to_string(),
                _ => {}
            }
        }
    }
    let mut body = vec![0; len];
    reader.read_exact(&mut body).ok()?;
    Some(Delivery {
        seq,
        signature,
        body,
    })
}
