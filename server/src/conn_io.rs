//! A plain TCP connection that can still answer after hyper gave up on it.
//!
//! When a client sends its request head too slowly, hyper's header timeout
//! ends the connection without a response. S3 answers such clients with
//! 400 `RequestTimeout`, so the connection task keeps a second handle on the
//! socket and writes that answer itself — but only if part of a request had
//! arrived: an idle keep-alive connection is simply closed, since a client
//! could otherwise read the unsolicited answer as the reply to its next
//! request.

use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{ready, Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

struct Shared {
    stream: TcpStream,
    /// Bytes arrived since the last response bytes were written.
    partial: AtomicBool,
}

/// The I/O handed to hyper.
pub struct TrackedTcp(Arc<Shared>);

/// The connection task's own handle on the same socket.
pub struct Handle(Arc<Shared>);

/// Splits a stream into hyper's I/O and the task's handle.
pub fn track(stream: TcpStream) -> (TrackedTcp, Handle) {
    let shared = Arc::new(Shared {
        stream,
        partial: AtomicBool::new(false),
    });
    (TrackedTcp(Arc::clone(&shared)), Handle(shared))
}

impl Handle {
    /// After a header timeout: answers 400 RequestTimeout if a request had
    /// begun to arrive (best effort; the socket closes when dropped).
    pub fn answer_header_timeout(&self) {
        if !self.0.partial.load(Ordering::Relaxed) {
            return;
        }
        let body =
            kura_protocol::S3Error::new(kura_protocol::S3ErrorCode::RequestTimeout).to_xml("", "");
        let response = format!(
            "HTTP/1.1 400 Bad Request\r\ncontent-type: application/xml\r\ncontent-length: {}\r\n\
             connection: close\r\nserver: kura\r\nx-content-type-options: nosniff\r\n\
             x-frame-options: DENY\r\n\r\n{body}",
            body.len()
        );
        // Small enough for the socket buffer; a client too slow to take it gets nothing.
        let _ = self.0.stream.try_write(response.as_bytes());
    }
}

impl AsyncRead for TrackedTcp {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        loop {
            ready!(self.0.stream.poll_read_ready(cx))?;
            match self.0.stream.try_read(buf.initialize_unfilled()) {
                Ok(n) => {
                    buf.advance(n);
                    if n > 0 {
                        self.0.partial.store(true, Ordering::Relaxed);
                    }
                    return Poll::Ready(Ok(()));
                }
                // Readiness can be spurious: wait again.
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
                Err(e) => return Poll::Ready(Err(e)),
            }
        }
    }
}

impl AsyncWrite for TrackedTcp {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        loop {
            ready!(self.0.stream.poll_write_ready(cx))?;
            match self.0.stream.try_write(buf) {
                Ok(n) => {
                    self.0.partial.store(false, Ordering::Relaxed);
                    return Poll::Ready(Ok(n));
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
                Err(e) => return Poll::Ready(Err(e)),
            }
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        loop {
            ready!(self.0.stream.poll_write_ready(cx))?;
            match self.0.stream.try_write_vectored(bufs) {
                Ok(n) => {
                    self.0.partial.store(false, Ordering::Relaxed);
                    return Poll::Ready(Ok(n));
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
                Err(e) => return Poll::Ready(Err(e)),
            }
        }
    }

    fn is_write_vectored(&self) -> bool {
        // hyper then sends head and body pieces without copying them together.
        true
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        // Writes go straight to the socket.
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        // Send FIN now, as tokio's own TcpStream does: a client reusing the
        // connection must see it closed before it writes its next request.
        // (The socket itself closes when the task drops both handles.)
        let result = socket2::SockRef::from(&self.0.stream).shutdown(std::net::Shutdown::Write);
        Poll::Ready(match result {
            Err(e) if e.kind() == io::ErrorKind::NotConnected => Ok(()),
            other => other,
        })
    }
}
