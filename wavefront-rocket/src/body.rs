//! The response body, holding the request's guard until it has been sent.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use rocket::response::Body;
use rocket::tokio::io::{AsyncRead, AsyncSeek, ReadBuf};
use wavefront_core::lifecycle::RequestGuard;

/// A response body that records its request at its end (or when dropped,
/// unread or partly read).
#[derive(Debug)]
pub(crate) struct GuardedBody<'r> {
    body: Body<'r>,
    guard: Option<RequestGuard>,
}

impl<'r> GuardedBody<'r> {
    pub(crate) fn new(body: Body<'r>, guard: RequestGuard) -> Self {
        GuardedBody {
            body,
            guard: Some(guard),
        }
    }
}

impl AsyncRead for GuardedBody<'_> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let (before, room) = (buf.filled().len(), buf.remaining() > 0);
        let polled = Pin::new(&mut this.body).poll_read(cx, buf);
        let done = match &polled {
            Poll::Ready(Ok(())) => room && buf.filled().len() == before,
            Poll::Ready(Err(_)) => true,
            Poll::Pending => false,
        };
        if done {
            drop(this.guard.take());
        }
        polled
    }
}

/// Only for rocket's sized bodies: the size is always preset, so rocket
/// never seeks.
impl AsyncSeek for GuardedBody<'_> {
    fn start_seek(self: Pin<&mut Self>, _: io::SeekFrom) -> io::Result<()> {
        Err(io::Error::new(
            io::ErrorKind::Unsupported,
            "an instrumented body cannot seek",
        ))
    }

    fn poll_complete(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<u64>> {
        Poll::Ready(Ok(0))
    }
}
