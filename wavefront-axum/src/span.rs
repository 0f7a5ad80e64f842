//! [`CurrentSpan`]: the request's span as a handler argument.

use std::ops::Deref;

use axum::extract::{FromRequestParts, OptionalFromRequestParts};
use axum::response::{IntoResponse, Response};
use http::request::Parts;
use http::StatusCode;
use wavefront_core::trace::{current_span, SpanHandle};

/// The request's span, as an extractor: handlers take `span: CurrentSpan` to
/// add tags or logs or to continue the trace in outgoing calls. It
/// dereferences to [`SpanHandle`].
///
/// The layer makes the request's span the current one while its handler
/// runs, so extracting it costs no request extension. On a route the
/// [`WavefrontLayer`](crate::WavefrontLayer) does not wrap there is no span:
/// the extractor rejects the request with `500` (take
/// `Option<CurrentSpan>` to do without).
///
/// ```
/// use wavefront_axum::CurrentSpan;
///
/// async fn checkout(span: CurrentSpan) -> &'static str {
///     span.set_tag("cart.items", "3");
///     "ok"
/// }
/// # let _: axum::Router = axum::Router::new().route("/checkout", axum::routing::post(checkout));
/// ```
// Each adapter has its own (rocket's is a request guard): a framework's
// extractor trait can be implemented only for a type of the adapter's crate.
#[derive(Debug, Clone)]
pub struct CurrentSpan(pub SpanHandle);

impl Deref for CurrentSpan {
    type Target = SpanHandle;

    fn deref(&self) -> &SpanHandle {
        &self.0
    }
}

impl<S: Send + Sync> FromRequestParts<S> for CurrentSpan {
    type Rejection = NoSpan;

    async fn from_request_parts(_parts: &mut Parts, _state: &S) -> Result<Self, NoSpan> {
        current_span().map(CurrentSpan).ok_or(NoSpan)
    }
}

impl<S: Send + Sync> OptionalFromRequestParts<S> for CurrentSpan {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        _parts: &mut Parts,
        _state: &S,
    ) -> Result<Option<Self>, Self::Rejection> {
        Ok(current_span().map(CurrentSpan))
    }
}

/// The rejection of [`CurrentSpan`] on a route the layer does not wrap.
#[derive(Debug, Clone, Copy)]
pub struct NoSpan;

impl IntoResponse for NoSpan {
    fn into_response(self) -> Response {
        (
            StatusCode::INTERNAL_SERVER_ERROR,
            "no Wavefront span: the route is not wrapped by WavefrontLayer",
        )
            .into_response()
    }
}
