//! What the fairing and the wrapped handlers share about one request, in the
//! request's local cache.

use std::borrow::Cow;
use std::sync::{Mutex, MutexGuard, PoisonError};

use rocket::{Request, Route};
use wavefront_core::lifecycle::RequestGuard;

/// The route that answered a request: its mounted template and its
/// handler's name.
#[derive(Debug)]
pub(crate) struct Answered {
    pub(crate) template: String,
    pub(crate) name: Option<Cow<'static, str>>,
}

impl Answered {
    pub(crate) fn of(route: &Route) -> Self {
        Answered {
            template: route.uri.path().to_owned(),
            name: route.name.clone(),
        }
    }
}

/// One request's record. The lock is only ever held for a few field
/// updates, never across an `await` or a handler's poll.
#[derive(Debug, Default)]
pub(crate) struct Recorded {
    /// Started by the fairing's `on_request`; taken by `on_response`.
    pub(crate) guard: Option<RequestGuard>,
    /// Whether wrapped handlers measure CPU time.
    pub(crate) measure_cpu: bool,
    /// CPU time the wrapped handlers spent.
    pub(crate) cpu_ns: Option<u64>,
    /// The address of the last wrapped route tried (identity only).
    pub(crate) last_tried: Option<usize>,
    /// The wrapped route that answered (success, error or panic).
    pub(crate) answered: Option<Answered>,
    /// `panic: <message>` of a wrapped handler that panicked.
    pub(crate) panic: Option<String>,
}

/// The local-cache entry (keyed by this private type).
#[derive(Debug, Default)]
pub(crate) struct RequestState(Mutex<Recorded>);

impl RequestState {
    /// The request's state, created empty if nothing set it up (no fairing).
    pub(crate) fn of<'r>(request: &'r Request<'_>) -> &'r RequestState {
        request.local_cache(RequestState::default)
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, Recorded> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Recorded {
    pub(crate) fn add_cpu_ns(&mut self, ns: u64) {
        self.cpu_ns = Some(self.cpu_ns.unwrap_or(0).saturating_add(ns));
    }

    /// Adds this thread's CPU time since `stopwatch` started.
    pub(crate) fn add_cpu_since(&mut self, stopwatch: Option<wavefront_core::cpu::CpuStopwatch>) {
        if let Some(ns) = stopwatch.and_then(|s| s.elapsed_ns()) {
            self.add_cpu_ns(ns);
        }
    }
}

/// The identity of a route, to compare with the one rocket reports.
pub(crate) fn route_id(route: &Route) -> usize {
    std::ptr::from_ref(route) as usize
}
