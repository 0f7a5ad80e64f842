//! [`InstrumentedBody`]: a response body that finishes its request when it
//! has been sent or dropped; [`BodyJoin`]: how an adapter hands its
//! framework a response body with the request's guard.

use std::pin::Pin;
use std::task::{Context, Poll};

use http_body::{Body, Frame, SizeHint};
use pin_project_lite::pin_project;

use super::RequestGuard;

/// A body of known size up to this many bytes is an answer already made (a
/// text, a JSON document): it is written at once, so its request ends when
/// the response is ready (as the reference's does, in `after_request`),
/// and the body needs no wrapper to carry the request.
pub const SENT_AT_ONCE: u64 = 64 * 1_024;

/// Whether `body`'s request ends with its response (a body of known size,
/// at most [`SENT_AT_ONCE`] bytes) rather than when the body has been sent.
///
/// ```
/// use http_body::{Body, Frame, SizeHint};
/// use std::pin::Pin;
/// use std::task::{Context, Poll};
/// use wavefront_core::lifecycle::ends_with_response;
///
/// /// A body of this many bytes, or of unknown length.
/// struct Length(Option<u64>);
/// impl Body for Length {
///     type Data = &'static [u8];
///     type Error = std::convert::Infallible;
///     fn poll_frame(self: Pin<&mut Self>, _: &mut Context<'_>)
///         -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> { Poll::Ready(None) }
///     fn size_hint(&self) -> SizeHint {
///         self.0.map_or_else(SizeHint::new, SizeHint::with_exact)
///     }
/// }
/// assert!(ends_with_response(&Length(Some(14))));
/// assert!(!ends_with_response(&Length(Some(10 << 20)))); // a download
/// assert!(!ends_with_response(&Length(None))); // a stream
/// ```
pub fn ends_with_response(body: &impl Body) -> bool {
    body.size_hint()
        .exact()
        .is_some_and(|len| len <= SENT_AT_ONCE)
}

/// How the response body of an instrumented request reaches the framework,
/// with the request's guard, which records the request when dropped.
///
/// [`WrapBody`] (the default) always wraps the body in an
/// [`InstrumentedBody`]. An adapter whose framework boxes every body that is
/// not its own type implements it to give that type back, unwrapped when
/// [`ends_with_response`] (the guard dropped at once): no allocation then.
pub trait BodyJoin<B>: Clone {
    /// The body the framework receives.
    type Body;

    /// Joins `body` and `guard`.
    fn join(&self, body: B, guard: RequestGuard) -> Self::Body;
}

/// The [`BodyJoin`] that wraps every body in an [`InstrumentedBody`].
#[derive(Debug, Clone, Copy, Default)]
pub struct WrapBody;

impl<B> BodyJoin<B> for WrapBody {
    type Body = InstrumentedBody<B>;

    fn join(&self, body: B, guard: RequestGuard) -> InstrumentedBody<B> {
        InstrumentedBody::new(body, guard)
    }
}

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
