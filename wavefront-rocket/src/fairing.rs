//! [`WavefrontFairing`]: starts each request's record when it arrives and
//! completes it when its response body has been sent.

use std::borrow::Cow;

use rocket::data::Data;
use rocket::fairing::{Fairing, Info, Kind};
use rocket::http::HeaderMap;
use rocket::{Request, Response};
use wavefront_core::lifecycle::{
    request_url, Instrumentation, InstrumentationBuilder, RequestInfo,
};
use wavefront_core::reporter::Reporter;
use wavefront_core::trace::Headers;

use crate::body::GuardedBody;
use crate::state::{route_id, Answered, RequestState};
use crate::COMPONENT;

/// Records every request of the rocket it is attached to. See the
/// [crate docs](crate).
#[derive(Debug, Clone)]
pub struct WavefrontFairing(Instrumentation);

impl WavefrontFairing {
    /// A fairing reporting through `reporter`, with default settings.
    #[must_use]
    pub fn new(reporter: &Reporter) -> Self {
        Self::builder(reporter).build()
    }

    /// A fairing with settings (component, route cap, CPU time); building it
    /// registers the component's heartbeat.
    ///
    /// ```
    /// # let reporter = wavefront_core::reporter::Reporter::from_env(
    /// #     &wavefront_core::ApplicationTags::builder("Ordering", "styling").build()?)?;
    /// use wavefront_rocket::WavefrontFairing;
    ///
    /// let fairing: WavefrontFairing = WavefrontFairing::builder(&reporter).cpu_time(false).build();
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn builder(reporter: &Reporter) -> InstrumentationBuilder<WavefrontFairing> {
        reporter.instrumentation(COMPONENT)
    }

    /// The instrumentation the fairing records with.
    #[must_use]
    pub fn instrumentation(&self) -> &Instrumentation {
        &self.0
    }
}

impl From<Instrumentation> for WavefrontFairing {
    fn from(instrumentation: Instrumentation) -> Self {
        WavefrontFairing(instrumentation)
    }
}

/// A rocket request as the core sees it when it arrives (no route yet).
struct RocketRequest<'a> {
    method: &'static str,
    url: String,
    headers: RocketHeaders<'a>,
}

impl<'a> RocketRequest<'a> {
    fn new(request: &'a Request<'_>) -> Self {
        RocketRequest {
            method: request.method().as_str(),
            url: request_url(
                "http",
                request.headers().get_one("Host"),
                request.uri().path().as_str(),
            ),
            headers: RocketHeaders(request.headers()),
        }
    }
}

impl RequestInfo for RocketRequest<'_> {
    fn method(&self) -> &str {
        self.method
    }

    fn route(&self) -> Option<&str> {
        None
    }

    fn url(&self) -> Cow<'_, str> {
        Cow::Borrowed(&self.url)
    }

    fn headers(&self) -> &dyn Headers {
        &self.headers
    }
}

/// Rocket's header map, for an incoming span context.
struct RocketHeaders<'a>(&'a HeaderMap<'a>);

impl Headers for RocketHeaders<'_> {
    fn get(&self, name: &str) -> Option<&str> {
        self.0.get_one(name)
    }

    fn for_each(&self, f: &mut dyn FnMut(&str, &str)) {
        for header in self.0.iter() {
            f(header.name().as_str(), header.value());
        }
    }

    fn count(&self, name: &str) -> usize {
        self.0.get(name).take(2).count()
    }
}

#[rocket::async_trait]
impl Fairing for WavefrontFairing {
    fn info(&self) -> Info {
        Info {
            name: "Wavefront",
            kind: Kind::Request | Kind::Response,
        }
    }

    async fn on_request(&self, request: &mut Request<'_>, _: &mut Data<'_>) {
        let request: &Request<'_> = request;
        let state = RequestState::of(request);
        if state.lock().guard.is_some() {
            return; // another Wavefront fairing records this request
        }
        // CPU time is measured in both callbacks and in wrapped handlers:
        // what rocket spends routing between them is not seen.
        let stopwatch = self.0.cpu_stopwatch();
        let guard = self.0.start(&RocketRequest::new(request));
        let mut recorded = state.lock();
        recorded.measure_cpu = guard.measures_cpu();
        recorded.guard = Some(guard);
        recorded.add_cpu_since(stopwatch);
    }

    async fn on_response<'r>(&self, request: &'r Request<'_>, response: &mut Response<'r>) {
        let stopwatch = self.0.cpu_stopwatch();
        let state = RequestState::of(request);
        let guard = {
            let mut recorded = state.lock();
            let Some(mut guard) = recorded.guard.take() else {
                return;
            };
            let route = request.route();
            let bound = match recorded.answered.take() {
                // A wrapped handler answered (or panicked).
                Some(answered) => Some(answered),
                // The last route tried was wrapped and forwarded: a catcher
                // answered.
                None if recorded.last_tried.is_some()
                    && recorded.last_tried == route.map(route_id) =>
                {
                    None
                }
                // Routes not wrapped: the last route rocket tried.
                None => route.map(Answered::of),
            };
            recorded.add_cpu_since(stopwatch);
            if let Some(ns) = recorded.cpu_ns.take() {
                guard.add_cpu_ns(ns);
            }
            if let Some(message) = recorded.panic.take() {
                guard.set_error(message);
            }
            if let Some(Answered { template, name }) = bound {
                if let Some(name) = name {
                    guard.set_handler(name);
                }
                guard.set_route(template);
            }
            guard.set_status(response.status().code);
            if response.body().is_none() {
                // No body to carry the guard: it is recorded when rocket
                // drops the request, once the response has been sent.
                recorded.guard = Some(guard);
                return;
            }
            guard
        };
        let max_chunk = response.body().max_chunk_size();
        let size = response.body_mut().size().await;
        let body = GuardedBody::new(response.body_mut().take(), guard);
        match size {
            Some(size) => response.set_sized_body(size, body),
            None => response.set_streamed_body(body),
        }
        response.set_max_chunk_size(max_chunk);
    }
}
