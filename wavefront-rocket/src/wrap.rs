//! [`wrap`]: handlers that tell the fairing which route answered, measure
//! their CPU time and keep a panic's message.

use std::any::Any;
use std::future::Future;
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::task::{Context, Poll};

use rocket::data::Data;
use rocket::route::{Handler, Outcome};
use rocket::{Request, Route};
use wavefront_core::cpu::CpuStopwatch;
use wavefront_core::lifecycle::panic_message;

use crate::state::{route_id, Answered, RequestState};

/// Wraps each route's handler for the [`WavefrontFairing`](crate::WavefrontFairing):
/// the fairing then knows which route answered (a catcher answering after
/// every matching route forwarded is recorded as `unmatched`), records the
/// handler's CPU time (`cpu_ns`) and the message of a panic (which rocket
/// still answers with its `500` catcher). Wrap each route once.
///
/// ```
/// use rocket::{get, routes};
///
/// #[get("/bad-gateway")]
/// fn bad_gateway() -> rocket::http::Status {
///     rocket::http::Status::BadGateway
/// }
///
/// let rocket = rocket::build().mount("/", wavefront_rocket::wrap(routes![bad_gateway]));
/// ```
pub fn wrap(routes: impl Into<Vec<Route>>) -> Vec<Route> {
    routes
        .into()
        .into_iter()
        .map(|mut route| {
            route.handler = Box::new(Wrapped(route.handler));
            route
        })
        .collect()
}

/// A wrapped route handler.
#[derive(Clone)]
struct Wrapped(Box<dyn Handler>);

#[rocket::async_trait]
impl Handler for Wrapped {
    async fn handle<'r>(&self, request: &'r Request<'_>, data: Data<'r>) -> Outcome<'r> {
        let state = RequestState::of(request);
        let measure_cpu = {
            let mut recorded = state.lock();
            recorded.last_tried = request.route().map(route_id);
            recorded.measure_cpu
        };
        let inner = match catch_unwind(AssertUnwindSafe(|| self.0.handle(request, data))) {
            Ok(inner) => inner,
            Err(payload) => panicked(state, request, None, payload),
        };
        let outcome = Measured {
            inner,
            state,
            request,
            measure_cpu,
        }
        .await;
        if !matches!(outcome, Outcome::Forward(_)) {
            if let Some(route) = request.route() {
                state.lock().answered = Some(Answered::of(route));
            }
        }
        outcome
    }
}

/// Records a panic, then lets it unwind on to rocket, which answers `500`.
fn panicked(
    state: &RequestState,
    request: &Request<'_>,
    cpu_ns: Option<u64>,
    payload: Box<dyn Any + Send>,
) -> ! {
    {
        let mut recorded = state.lock();
        if let Some(ns) = cpu_ns {
            recorded.add_cpu_ns(ns);
        }
        recorded.panic = Some(panic_message(&*payload));
        recorded.answered = request.route().map(Answered::of);
    }
    resume_unwind(payload)
}

/// The handler's future, with its CPU time measured per poll and its panic
/// recorded.
struct Measured<'r, 'a, F> {
    inner: F,
    state: &'r RequestState,
    request: &'r Request<'a>,
    measure_cpu: bool,
}

impl<'r, F> Future for Measured<'r, '_, F>
where
    F: Future<Output = Outcome<'r>> + Unpin,
{
    type Output = Outcome<'r>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Outcome<'r>> {
        let this = self.get_mut();
        let stopwatch = if this.measure_cpu {
            CpuStopwatch::start()
        } else {
            None
        };
        let polled = catch_unwind(AssertUnwindSafe(|| Pin::new(&mut this.inner).poll(cx)));
        let cpu_ns = stopwatch.and_then(|s| s.elapsed_ns());
        match polled {
            Ok(poll) => {
                if let Some(ns) = cpu_ns {
                    this.state.lock().add_cpu_ns(ns);
                }
                poll
            }
            Err(payload) => panicked(this.state, this.request, cpu_ns, payload),
        }
    }
}
