//! A download's response body: chunk frames read and verified against their
//! checksums (see `kura_storage::ObjectReader`), produced one at a time.
//!
//! Reading a frame may wait on
//! the disk, so it runs on the blocking pool. But only the mapping does: the
//! body asks for the next frame when hyper takes the current one, and a
//! blocking task maps it and ends. A client that stops reading stops hyper
//! from polling the body, so nothing is produced and no thread waits for it
//! (each GET used to park a blocking thread on a one-slot channel for as long
//! as its client stalled: 512 stalled readers exhausted the pool that every
//! write needs). What a stalled download holds is its connection, the frame
//! hyper is writing, one frame mapped ahead, and its version's read guard,
//! until `--send-timeout` cuts it off (see `send_timeout`).
//!
//! The first frame is read and verified before the response head exists
//! ([`stream_body`] waits for it): damage in an object's first block then
//! answers a 500 InternalError, which a client sees and an audit line
//! records, instead of a connection closed after a 200 head. Damage met
//! later can only abort the transfer, as the head is gone by then.
//!
//! One frame mapped ahead keeps disk and socket overlapped: the next frame is
//! being mapped while hyper writes the current one. Frames are mapped by a
//! pool of its own, [`MAPPERS`] threads, whatever the number of downloads:
//! a burst of downloads queues there and never takes threads from the
//! blocking pool that writes need (which grows a thread per waiting task).

use std::future::Future;
use std::io;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::mpsc;
use std::sync::{Arc, Mutex, OnceLock};
use std::task::{ready, Context, Poll};

use bytes::Bytes;
use http_body::{Frame, SizeHint};
use http_body_util::BodyExt;
use kura_storage::ObjectReader;
use tokio::sync::oneshot;

use crate::frames::Download;
use crate::response::Body;

/// Threads mapping download frames.
pub const MAPPERS: usize = 16;

/// The reader handed back with the frame it produced.
type Mapped = (ObjectReader, io::Result<Bytes>);
type Mapping = oneshot::Receiver<Mapped>;
type Job = Box<dyn FnOnce() + Send>;

/// The mapping pool's queue (the threads start with the first download).
fn mappers() -> &'static Mutex<mpsc::Sender<Job>> {
    static QUEUE: OnceLock<Mutex<mpsc::Sender<Job>>> = OnceLock::new();
    QUEUE.get_or_init(|| {
        let (tx, rx) = mpsc::channel::<Job>();
        let rx = Arc::new(Mutex::new(rx));
        for i in 0..MAPPERS {
            let rx = Arc::clone(&rx);
            std::thread::Builder::new()
                .name(format!("kura-map-{i}"))
                .spawn(move || loop {
                    let job = match rx.lock() {
                        Ok(rx) => rx.recv(),
                        Err(_) => return,
                    };
                    match job {
                        // A panic fails that one download (its sender is
                        // dropped), not the thread.
                        Ok(job) => drop(std::panic::catch_unwind(AssertUnwindSafe(job))),
                        Err(_) => return,
                    }
                })
                .expect("spawning a mapping thread");
        }
        Mutex::new(tx)
    })
}

/// Streams `len` (> 0) bytes of `reader` (already narrowed to its range).
/// Reads and verifies the first frame before returning: an error here
/// (damaged or missing chunk data) comes before any byte of the response,
/// so the caller can still answer it with an error status.
pub async fn stream_body(reader: ObjectReader, len: u64) -> io::Result<Body> {
    let download = Download::start();
    let (reader, first) = map_next(reader, download.frame_size())
        .await
        .map_err(|_| mapping_failed())?;
    let first = first?;
    if first.is_empty() {
        return Err(ended_early());
    }
    let mut body = DownloadBody {
        ready: None,
        next: None,
        remaining: len,
        download,
    };
    body.queue(first, reader);
    Ok(body.boxed())
}

/// Queues the mapping of the reader's next frame; it runs ahead of hyper's polls.
fn map_next(mut reader: ObjectReader, frame_size: usize) -> Mapping {
    let (tx, rx) = oneshot::channel();
    let job: Job = Box::new(move || {
        let frame = reader.next_frame(frame_size);
        // The download may be gone meanwhile: the reader is dropped here then.
        let _ = tx.send((reader, frame));
    });
    // If the pool is gone the job (and its sender) is dropped: the body fails.
    let _ = mappers().lock().map(|queue| queue.send(job));
    rx
}

struct DownloadBody {
    /// A frame read and not yet handed to hyper (the first one).
    ready: Option<Bytes>,
    /// The frame being mapped (none once the last one was handed out).
    next: Option<Mapping>,
    /// Bytes not yet handed to hyper.
    remaining: u64,
    /// Counts this download while it lives (frames shrink as downloads multiply).
    download: Download,
}

impl DownloadBody {
    /// Holds `first` for hyper's first poll and maps the frame after it.
    fn queue(&mut self, first: Bytes, reader: ObjectReader) {
        let left = self.remaining.saturating_sub(first.len() as u64);
        self.ready = Some(first);
        self.map_ahead(left, reader);
    }

    /// Maps the next frame while hyper writes the current one, unless
    /// nothing is `left` after it.
    fn map_ahead(&mut self, left: u64, reader: ObjectReader) {
        if left > 0 && reader.remaining() > 0 {
            self.next = Some(map_next(reader, self.download.frame_size()));
        }
    }
}

impl http_body::Body for DownloadBody {
    type Data = Bytes;
    type Error = io::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, io::Error>>> {
        if self.remaining == 0 {
            return Poll::Ready(None);
        }
        if let Some(data) = self.ready.take() {
            self.remaining = self.remaining.saturating_sub(data.len() as u64);
            return Poll::Ready(Some(Ok(Frame::data(data))));
        }
        let Some(mapping) = self.next.as_mut() else {
            return Poll::Ready(Some(Err(ended_early())));
        };
        let joined = ready!(Pin::new(mapping).poll(cx));
        self.next = None;
        let (reader, frame) = match joined {
            Ok(done) => done,
            Err(_) => return Poll::Ready(Some(Err(mapping_failed()))),
        };
        let data = match frame {
            Ok(data) if data.is_empty() => return Poll::Ready(Some(Err(ended_early()))),
            Ok(data) => data,
            Err(e) => {
                // Headers are already sent: fail the body so the client sees
                // a broken transfer, never a silently short object.
                tracing::error!(error = %e, "read failed mid-download");
                return Poll::Ready(Some(Err(e)));
            }
        };
        self.remaining = self.remaining.saturating_sub(data.len() as u64);
        let left = self.remaining;
        self.map_ahead(left, reader);
        Poll::Ready(Some(Ok(Frame::data(data))))
    }

    fn is_end_stream(&self) -> bool {
        self.remaining == 0
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.remaining)
    }
}

fn mapping_failed() -> io::Error {
    io::Error::other("frame mapping failed")
}

fn ended_early() -> io::Error {
    io::Error::new(io::ErrorKind::UnexpectedEof, "object data ended early")
}
