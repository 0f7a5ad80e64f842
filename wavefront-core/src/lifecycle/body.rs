//! [`InstrumentedBody`]: a response body that finishes its request when it
//! has been sent or dropped.

use std::pin::Pin;
use std::task::{Context, Poll};

use http_body::{Body, Frame, SizeHint};
use pin_project_lite::pin_project;

use super::RequestGuard;

pin_project! {
    /// Holds the request's guard until the body's last frame has been
    /// produced, or the body is dropped (client gone), so latency covers a
    /// streamed body to its end and the in-flight gauges stay right on
    /// aborts.
    pub struct InstrumentedBody<B> {
        #[pin]
        inner: B,
        guard: Option<RequestGuard>,
    }
}

impl<B> InstrumentedBody<B> {
    /// Wraps `body`; `guard` is dropped (the request recorded) at its end.
    pub fn new(inner: B, guard: RequestGuard) -> Self {
        InstrumentedBody {
            inner,
            guard: Some(guard),
        }
    }
}

impl<B> std::fmt::Debug for InstrumentedBody<B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InstrumentedBody")
            .field("guard", &self.guard)
            .finish_non_exhaustive()
    }
}

impl<B: Body> Body for InstrumentedBody<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        let this = self.project();
        let polled = this.inner.poll_frame(cx);
        match &polled {
            Poll::Ready(None) => drop(this.guard.take()),
            Poll::Ready(Some(Err(_))) => {
                if let Some(mut guard) = this.guard.take() {
                    guard.set_error("the response body failed");
                }
            }
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
