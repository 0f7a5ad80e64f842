//! [`CurrentSpan`]: the request's span as a rocket request guard.

use std::ops::Deref;

use rocket::http::Status;
use rocket::request::{FromRequest, Outcome};
use rocket::Request;
use wavefront_core::trace::SpanHandle;

use crate::state::RequestState;

/// The request's span, as a request guard: handlers take `span: CurrentSpan`
/// to add tags or logs or to continue the trace in outgoing calls. It
/// dereferences to [`SpanHandle`].
///
/// Without the [`WavefrontFairing`](crate::WavefrontFairing) attached there
/// is no span: the guard fails with `500` (take `Option<CurrentSpan>` to do
/// without).
// axum's adapter has its own: a framework's extractor trait can be
// implemented only for a type of the adapter's crate.
#[derive(Debug, Clone)]
pub struct CurrentSpan(pub SpanHandle);

impl Deref for CurrentSpan {
    type Target = SpanHandle;

    fn deref(&self) -> &SpanHandle {
        &self.0
    }
}

#[rocket::async_trait]
impl<'r> FromRequest<'r> for CurrentSpan {
    type Error = &'static str;

    async fn from_request(request: &'r Request<'_>) -> Outcome<Self, Self::Error> {
        let span = RequestState::of(request)
            .lock()
            .guard
            .as_ref()
            .map(|guard| guard.span().clone());
        match span {
            Some(span) => Outcome::Success(CurrentSpan(span)),
            None => Outcome::Error((
                Status::InternalServerError,
                "the WavefrontFairing is not attached",
            )),
        }
    }
}
