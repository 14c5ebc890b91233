//! Keep-alive connections for `kura replicate`: it sends thousands of small
//! requests a second, and a fresh TCP (and TLS) connection for each one
//! cost more than the request itself. A connection goes back to the pool
//! only once its response has been read to the end; one whose body is
//! dropped halfway is closed (HTTP/1 cannot skip the rest of a body).

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use anyhow::Context as _;
use bytes::Bytes;
use http::header::HeaderName;
use http::{Method, Response};
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt, Full};
use hyper::body::{Body, Frame, Incoming, SizeHint};
use hyper::client::conn::http1::SendRequest;
use parking_lot::Mutex;

use super::client::Client;

/// The error type of request bodies.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;
/// Any request body.
pub type ReqBody = UnsyncBoxBody<Bytes, BoxError>;

/// Idle connections kept per pool; more are closed.
const MAX_IDLE: usize = 64;

/// A [`Client`] whose connections are kept open and reused.
pub struct Pool {
    client: Client,
    idle: Mutex<Vec<SendRequest<ReqBody>>>,
}

impl Pool {
    /// A pool of connections to `client`'s endpoint, signed with its credentials.
    pub fn new(client: Client) -> Arc<Pool> {
        Arc::new(Pool {
            client,
            idle: Mutex::new(Vec::new()),
        })
    }

    /// An idle connection that is still open, else a new one; `true` if reused.
    async fn checkout(&self) -> anyhow::Result<(SendRequest<ReqBody>, bool)> {
        loop {
            let Some(mut sender) = self.idle.lock().pop() else {
                break;
            };
            // Closed by the server meanwhile (idle timeout): drop it.
            if sender.ready().await.is_ok() {
                return Ok((sender, true));
            }
        }
        Ok((self.client.open().await?, false))
    }

    fn put_back(&self, sender: SendRequest<ReqBody>) {
        let mut idle = self.idle.lock();
        if idle.len() < MAX_IDLE {
            idle.push(sender);
        }
    }

    fn wrap(
        self: &Arc<Self>,
        resp: Response<Incoming>,
        sender: SendRequest<ReqBody>,
    ) -> Response<Pooled> {
        let (parts, inner) = resp.into_parts();
        let mut body = Pooled {
            inner,
            back: Some((Arc::clone(self), sender)),
        };
        // Nothing to read (HEAD, 204, an empty body): free at once.
        if body.inner.is_end_stream() {
            body.release();
        }
        Response::from_parts(parts, body)
    }

    /// Sends a signed request with a small body held in memory. A reused
    /// connection that turns out closed before the answer (the server's idle
    /// timeout racing the request) is retried once on a new connection.
    pub async fn call(
        self: &Arc<Self>,
        method: Method,
        path_and_query: &str,
        headers: &[(HeaderName, String)],
        body: Bytes,
    ) -> anyhow::Result<Response<Pooled>> {
        let full = |b: Bytes| Full::new(b).map_err(|never| match never {}).boxed_unsync();
        let (mut sender, reused) = self.checkout().await?;
        let req =
            self.client
                .signed(method.clone(), path_and_query, headers, full(body.clone()))?;
        match sender.send_request(req).await {
            Ok(resp) => Ok(self.wrap(resp, sender)),
            Err(e) if reused && (e.is_canceled() || e.is_incomplete_message() || e.is_closed()) => {
                let mut sender = self.client.open().await?;
                let req = self
                    .client
                    .signed(method, path_and_query, headers, full(body))?;
                let resp = sender
                    .send_request(req)
                    .await
                    .context("sending the request")?;
                Ok(self.wrap(resp, sender))
            }
            Err(e) => Err(e).context("sending the request"),
        }
    }

    /// Sends a signed request with a streamed body (signed as
    /// `UNSIGNED-PAYLOAD`); not retried, since the body cannot be sent twice.
    pub async fn stream<B>(
        self: &Arc<Self>,
        method: Method,
        path_and_query: &str,
        headers: &[(HeaderName, String)],
        body: B,
    ) -> anyhow::Result<Response<Pooled>>
    where
        B: Body<Data = Bytes> + Send + 'static,
        B::Error: Into<BoxError>,
    {
        let (mut sender, _) = self.checkout().await?;
        let req = self.client.signed(
            method,
            path_and_query,
            headers,
            body.map_err(Into::into).boxed_unsync(),
        )?;
        let resp = sender
            .send_request(req)
            .await
            .context("sending the request")?;
        Ok(self.wrap(resp, sender))
    }
}

/// A response body that returns its connection to the pool once read to
/// the end.
pub struct Pooled {
    inner: Incoming,
    back: Option<(Arc<Pool>, SendRequest<ReqBody>)>,
}

impl Pooled {
    fn release(&mut self) {
        if let Some((pool, sender)) = self.back.take() {
            pool.put_back(sender);
        }
    }
}

impl Body for Pooled {
    type Data = Bytes;
    type Error = hyper::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, hyper::Error>>> {
        let polled = Pin::new(&mut self.inner).poll_frame(cx);
        match &polled {
            Poll::Ready(None) => self.release(),
            Poll::Ready(Some(Ok(_))) if self.inner.is_end_stream() => self.release(),
            // A broken connection is not reused.
            Poll::Ready(Some(Err(_))) => self.back = None,
            _ => {}
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
