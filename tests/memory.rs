//! Bodies are streamed, never buffered whole: the server's peak memory stays
//! far below the size of what passes through it.

use crate::common;

use std::io::{Read, Write};
use std::net::TcpStream;

use common::raw::{signed_head, Raw};
use common::Server;

const SIZE: usize = 256 << 20;
/// Generous for a server that streams, impossible for one that buffers 256 MiB.
const LIMIT_KIB: u64 = 100 * 1024;

#[test]
fn large_put_and_get_stream_through_bounded_memory() {
    let server = Server::start();
    assert_eq!(Raw::new("PUT", "/mem").send(&server.addr).status, 200);

    let mut s = TcpStream::connect(&server.addr).unwrap();
    s.write_all(signed_head("PUT", "/mem/big", &server.addr, SIZE).as_bytes())
        .unwrap();
    let block = vec![0x5Au8; 1 << 20];
    for _ in 0..SIZE / block.len() {
        s.write_all(&block).unwrap();
    }
    let mut resp = [0u8; 12];
    s.read_exact(&mut resp).unwrap();
    assert_eq!(&resp, b"HTTP/1.1 200", "upload accepted");
    drop(s);
    let after_put = server.peak_rss_kib();
    eprintln!("peak RSS after the 256 MiB PUT: {after_put} KiB");
    assert!(
        after_put < LIMIT_KIB,
        "peak RSS {after_put} KiB after a 256 MiB PUT"
    );

    let mut s = TcpStream::connect(&server.addr).unwrap();
    s.write_all(signed_head("GET", "/mem/big", &server.addr, 0).as_bytes())
        .unwrap();
    let mut total = 0usize;
    let mut buf = vec![0u8; 1 << 16];
    // Read slowly-ish in small pieces; count everything (head + body).
    loop {
        let n = s.read(&mut buf).unwrap();
        if n == 0 || total + n >= SIZE {
            total += n;
            break;
        }
        total += n;
    }
    assert!(total >= SIZE, "read the whole object");
    let after_get = server.peak_rss_kib();
    eprintln!("peak RSS after the 256 MiB GET: {after_get} KiB");
    assert!(
        after_get < LIMIT_KIB,
        "peak RSS {after_get} KiB after a 256 MiB GET"
    );
}
