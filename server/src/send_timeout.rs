//! Cutting off clients that stop accepting response bytes (`--send-timeout`).
//!
//! A client that sends a request and never reads the answer keeps hyper
//! waiting for the socket to become writable, and with it the connection
//! slot, the response body (a download's read guard, which holds the purge
//! off its version) and the frames it maps. This wrapper fails a write that
//! could make no progress for the timeout: hyper then ends the connection,
//! drops the response body (releasing the guard) and the socket is closed.
//!
//! The clock runs only while a write is waiting: every accepted byte resets
//! it, so a slow but moving client is never cut off, and a connection idle
//! between requests (nothing to write) is not affected.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::{Instant, Sleep};

/// An I/O stream whose writes fail after `timeout` without progress.
pub struct SendTimeout<T> {
    inner: T,
    timeout: Option<Duration>,
    /// Armed while a write waits: when it fires, the write fails.
    deadline: Pin<Box<Sleep>>,
    armed: bool,
}

impl<T> SendTimeout<T> {
    /// Wraps `inner`; `None` (or a zero timeout) never cuts off.
    pub fn new(inner: T, timeout: Option<Duration>) -> SendTimeout<T> {
        SendTimeout {
            inner,
            timeout: timeout.filter(|t| !t.is_zero()),
            deadline: Box::pin(tokio::time::sleep(Duration::ZERO)),
            armed: false,
        }
    }

    /// Bookkeeping after a write attempt: progress disarms the clock, a
    /// wait arms it (once) and fails when it has run out.
    fn track(
        &mut self,
        cx: &mut Context<'_>,
        result: Poll<io::Result<usize>>,
    ) -> Poll<io::Result<usize>> {
        let Some(timeout) = self.timeout else {
            return result;
        };
        match result {
            Poll::Ready(r) => {
                self.armed = false;
                Poll::Ready(r)
            }
            Poll::Pending => {
                if !self.armed {
                    self.armed = true;
                    self.deadline.as_mut().reset(Instant::now() + timeout);
                }
                match self.deadline.as_mut().poll(cx) {
                    Poll::Ready(()) => Poll::Ready(Err(io::Error::new(
                        io::ErrorKind::TimedOut,
                        "the client accepted no response bytes within the send timeout",
                    ))),
                    Poll::Pending => Poll::Pending,
                }
            }
        }
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for SendTimeout<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for SendTimeout<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let result = Pin::new(&mut self.inner).poll_write(cx, buf);
        self.track(cx, result)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let result = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        self.track(cx, result)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[tokio::test]
    async fn a_reader_that_stops_is_cut_off_and_a_slow_one_is_not() {
        let (near, mut far) = tokio::io::duplex(64);
        let timeout = Duration::from_millis(400);
        let mut near = SendTimeout::new(near, Some(timeout));
        // The far side reads 64 bytes every 250 ms, more than the timeout
        // in all: each read is progress, so the writer is not cut off.
        let slow_reader = tokio::spawn(async move {
            let mut got = 0;
            let mut buf = [0u8; 64];
            while got < 512 {
                tokio::time::sleep(Duration::from_millis(250)).await;
                got += far.read(&mut buf).await.unwrap();
            }
            far
        });
        near.write_all(&[7u8; 512 + 64]).await.unwrap();
        let _far = slow_reader.await.unwrap();
        // Now nobody reads: the buffer stays full and the write fails.
        let started = Instant::now();
        let err = near.write_all(&[1u8; 1024]).await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::TimedOut);
        assert!(started.elapsed() >= timeout);
    }

    #[tokio::test]
    async fn no_timeout_never_cuts_off() {
        let (near, _far) = tokio::io::duplex(64);
        let mut near = SendTimeout::new(near, Some(Duration::ZERO));
        let write = near.write_all(&[1u8; 1024]);
        // Still waiting after well over any timeout it could have had.
        assert!(tokio::time::timeout(Duration::from_millis(300), write)
            .await
            .is_err());
    }
}
