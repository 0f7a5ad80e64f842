//! The request lifecycle: what any server does to report every series and
//! span of the framework SDKs' tables.
//!
//! An adapter describes each request through [`RequestInfo`], calls
//! [`Instrumentation::start`] when it arrives, and keeps the returned
//! [`RequestGuard`] until the response is complete: it binds the route and
//! the handler as soon as the server knows them (at the start, as axum does,
//! or after routing, as rocket and warp do), sets the status when the
//! response head is ready ([`RequestGuard::set_status`]) and drops the guard
//! when the body has been sent or dropped. Dropping the guard records
//! everything; a guard dropped early (client gone, handler panicked) still
//! balances the in-flight gauges, so they never drift or go negative.
//!
//! The request counts in the total in-flight gauge from its start, and in its
//! route's gauge from the moment the route is known. A request whose route is
//! never bound is recorded under the route `unmatched`.
//!
//! # Implementing for another server
//!
//! ```
//! use std::borrow::Cow;
//! use wavefront_core::lifecycle::{Instrumentation, RequestInfo};
//! use wavefront_core::registry::Registry;
//! use wavefront_core::trace::{Headers, Tracer};
//! use wavefront_core::ApplicationTags;
//!
//! struct MyRequest<'a> { method: &'a str, route: Option<&'a str>, headers: &'a [(&'a str, &'a str)] }
//!
//! impl RequestInfo for MyRequest<'_> {
//!     fn method(&self) -> &str { self.method }
//!     fn route(&self) -> Option<&str> { self.route }
//!     fn url(&self) -> Cow<'_, str> { Cow::Borrowed("http://localhost/orders/42") }
//!     fn headers(&self) -> &dyn Headers { &self.headers }
//! }
//!
//! let app = ApplicationTags::builder("Ordering", "styling").build()?;
//! let tracer = Tracer::builder(app.clone()).build();
//! let instrumentation = Instrumentation::builder("my_server", Registry::new(), tracer, app).build();
//!
//! // The route is not known yet when the request arrives:
//! let mut guard = instrumentation.start(&MyRequest { method: "GET", route: None, headers: &[] });
//! // … the server's router picks a route and a handler …
//! guard.set_handler("get_order");
//! guard.set_route("/orders/{id}"); // now in flight on the route
//! // … the handler runs …
//! guard.set_status(200);
//! drop(guard); // response sent: series and span recorded
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#[cfg(feature = "http")]
mod body;
mod future;
mod routes;
#[cfg(feature = "http")]
mod service;

use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;
use std::sync::{Arc, OnceLock};
use std::time::Instant;

pub use crate::panics::panic_message;
#[cfg(feature = "http")]
pub use body::{ends_with_response, BodyJoin, InstrumentedBody, WrapBody, SENT_AT_ONCE};
pub use future::Instrumented;
#[cfg(feature = "http")]
pub use service::{HttpLayer, HttpService, MatchedRoute, ResponseFuture, RouteExtractor};

use crate::cpu::{CpuStopwatch, StartMark};
use crate::naming::Naming;
use crate::registry::Registry;
use crate::tags::ApplicationTags;
use crate::trace::{Headers, OwnedSpan, SpanHandle, Text, Tracer};
use routes::{FuncHandles, RouteEntry, Routes};

/// Default cap on distinct (route, method) pairs per component.
pub const DEFAULT_MAX_ROUTES: usize = 1_000;

/// Most bytes of the `http.url` span tag: a client controls the host and the
/// path (hyper accepts 64 KB of path), so longer URLs are cut at a character
/// boundary and end in `…`.
pub const MAX_URL_BYTES: usize = 1_024;

/// The `http.url` of a request as the framework SDKs write it (Flask's
/// `base_url`): `scheme://host/path`, never the query; `localhost` when the
/// request named no host. For [`RequestInfo::url`].
///
/// ```
/// use wavefront_core::lifecycle::request_url;
///
/// assert_eq!(request_url("http", Some("shop:8080"), "/style/blue/make"), "http://shop:8080/style/blue/make");
/// assert_eq!(request_url("https", None, "/"), "https://localhost/");
/// ```
#[must_use]
pub fn request_url(scheme: &str, host: Option<&str>, path: &str) -> String {
    let mut url = String::new();
    push_request_url(&mut url, scheme, host, path);
    url
}

/// Appends [`request_url`]'s URL to `out` (for
/// [`RequestInfo::write_url`], without an allocation of its own).
pub fn push_request_url(out: &mut String, scheme: &str, host: Option<&str>, path: &str) {
    let host = host.unwrap_or("localhost");
    out.reserve(scheme.len() + 3 + host.len() + path.len());
    out.push_str(scheme);
    out.push_str("://");
    out.push_str(host);
    out.push_str(path);
}

/// Writes the request's URL for the span into `out`, cut to
/// [`MAX_URL_BYTES`] at a character boundary and ending in `…` if longer.
fn write_span_url(request: &(impl RequestInfo + ?Sized), out: &mut String) {
    request.write_url(out);
    if out.len() > MAX_URL_BYTES {
        let mut end = MAX_URL_BYTES - '…'.len_utf8();
        while !out.is_char_boundary(end) {
            end -= 1;
        }
        out.truncate(end);
        out.push('…');
    }
}

/// Texts of every three-digit status (`502`, `HTTP 502`), written once
/// into one string: a request gets its status's text without allocating.
pub(crate) struct StatusTexts {
    prefix: &'static str,
    texts: OnceLock<String>,
}

impl StatusTexts {
    pub(crate) const fn new(prefix: &'static str) -> Self {
        StatusTexts {
            prefix,
            texts: OnceLock::new(),
        }
    }

    /// `prefix` and `status`, for a status of three digits.
    pub(crate) fn get(&'static self, status: u16) -> Option<&'static str> {
        if !(100..=999).contains(&status) {
            return None;
        }
        let texts = self.texts.get_or_init(|| {
            (100..1000u16)
                .map(|code| format!("{}{code}", self.prefix))
                .collect()
        });
        let len = self.prefix.len() + 3;
        let at = usize::from(status - 100) * len;
        texts.get(at..at + len)
    }
}

/// The span log message of an error status (`HTTP 502`).
fn status_message(status: u16) -> Cow<'static, str> {
    static MESSAGES: StatusTexts = StatusTexts::new("HTTP ");
    match MESSAGES.get(status) {
        Some(message) => Cow::Borrowed(message),
        None => Cow::Owned(format!("HTTP {status}")),
    }
}

/// What the SDK needs to know about a request; implemented by adapters.
pub trait RequestInfo {
    /// The HTTP method as received (`GET`). Non-standard methods are
    /// recorded as `OTHER`.
    fn method(&self) -> &str;
    /// The matched route template (`/style/{id}/make`, `/files/<rest..>`),
    /// or `None` when no route matched. Never the raw path.
    fn route(&self) -> Option<&str>;
    /// The request URL without the query, for the `http.url` span tag.
    fn url(&self) -> Cow<'_, str>;
    /// Appends the URL of [`url`](Self::url) to `out`. The default copies
    /// it; a server that assembles the URL writes it here instead, which
    /// saves an allocation per request.
    fn write_url(&self, out: &mut String) {
        out.push_str(&self.url());
    }
    /// The request headers, for an incoming span context.
    fn headers(&self) -> &dyn Headers;
}

/// A request's method as series and spans name it: one of the nine
/// standard methods, or `OTHER` (so clients cannot create series at will);
/// a byte in a request's guard.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct MethodName(u8);

impl MethodName {
    const NAMES: [&'static str; 10] = [
        "GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "CONNECT", "TRACE", "OTHER",
    ];

    fn of(method: &str) -> Self {
        let known = Self::NAMES[..9]
            .iter()
            .position(|m| m.eq_ignore_ascii_case(method));
        MethodName(known.unwrap_or(9) as u8)
    }

    fn as_str(self) -> &'static str {
        Self::NAMES[usize::from(self.0)]
    }
}

/// Where the framework's routing announces what it matched: the route
/// template and the handler's name. It belongs to the request's span, which
/// routing code reaches where the adapter puts it (the
/// [current span](crate::trace::current_span) while the request's service
/// runs, for [`HttpLayer`]): a handler wrapper or a route marker announces
/// through [`RouteSlot::of`] the span, and the request's guard reads it. The
/// first value set wins, so a later branch cannot rename a request already
/// matched.
///
/// ```
/// use wavefront_core::lifecycle::RouteSlot;
/// use wavefront_core::trace::Tracer;
/// use wavefront_core::ApplicationTags;
///
/// let tracer = Tracer::builder(ApplicationTags::builder("Ordering", "styling").build()?).build();
/// let span = tracer.span("request").start();
/// RouteSlot::of(&span).set_route("/style/{id}/make");
/// RouteSlot::of(&span).set_route("/{*rest}"); // too late: the first one stays
/// assert_eq!(RouteSlot::of(&span).route(), Some("/style/{id}/make"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy)]
pub struct RouteSlot<'a>(&'a crate::trace::RouteNames);

impl<'a> RouteSlot<'a> {
    /// The slot of the request whose span this is.
    #[must_use]
    pub fn of(span: &'a SpanHandle) -> Self {
        RouteSlot(span.route_names())
    }

    /// Calls `f` with the slot of the request being served on this thread
    /// (its span is the [current one](crate::trace::current_span)); `None`
    /// outside a request. What a handler wrapper or a route marker calls.
    pub fn with_current<T>(f: impl FnOnce(RouteSlot<'_>) -> T) -> Option<T> {
        crate::trace::with_current_span(|span| f(RouteSlot::of(span)))
    }

    /// Records the handler's name.
    pub fn set_handler(self, name: impl Into<Cow<'static, str>>) {
        let _ = self.0.handler.set(name.into());
    }

    /// Records the matched route's template (`/style/{id}/make`).
    pub fn set_route(self, template: impl Into<Cow<'static, str>>) {
        let _ = self.0.route.set(template.into());
    }

    /// The handler's name, once set.
    #[must_use]
    pub fn handler(self) -> Option<&'a str> {
        self.0.handler.get().map(|n| &**n)
    }

    /// The route template, once set.
    #[must_use]
    pub fn route(self) -> Option<&'a str> {
        self.0.route.get().map(|r| &**r)
    }
}

struct Inner {
    /// The reporter it was built from, kept running while it lives.
    _owner: Option<Arc<dyn Owner>>,
    naming: Naming,
    /// `component` and `<p>.func`, shared by every span.
    component: Text,
    func_key: Text,
    tracer: Tracer,
    routes: Routes,
    cpu: bool,
}

/// Everything one component (an axum app, a warp server, …) needs to report
/// its requests; cheap to clone.
#[derive(Clone)]
pub struct Instrumentation(Arc<Inner>);

/// What an instrumentation is built from (a reporter): building registers
/// the component's heartbeat with it, and the instrumentation keeps it alive.
pub(crate) trait Owner: Send + Sync {
    /// Adds `component` to the heartbeats.
    fn add_component(&self, component: &str);
}

/// Builds an [`Instrumentation`], or an adapter made from one (`T`): every
/// adapter's builder is this one, so settings read the same everywhere.
///
/// ```
/// use wavefront_core::lifecycle::Instrumentation;
/// use wavefront_core::reporter::Reporter;
/// use wavefront_core::ApplicationTags;
///
/// let reporter = Reporter::from_env(&ApplicationTags::builder("Ordering", "styling").build()?)?;
/// let instrumentation: Instrumentation = reporter
///     .instrumentation("my_server")
///     .cpu_time(false)
///     .build(); // registers the `my_server` heartbeat
/// assert_eq!(instrumentation.component(), "my_server");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[must_use]
pub struct InstrumentationBuilder<T = Instrumentation> {
    component: String,
    registry: Registry,
    tracer: Tracer,
    app: ApplicationTags,
    max_routes: usize,
    cpu: bool,
    owner: Option<Arc<dyn Owner>>,
    output: PhantomData<fn() -> T>,
}

impl<T> fmt::Debug for InstrumentationBuilder<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("InstrumentationBuilder")
            .field("component", &self.component)
            .field("max_routes", &self.max_routes)
            .field("cpu", &self.cpu)
            .finish_non_exhaustive()
    }
}

impl<T: From<Instrumentation>> InstrumentationBuilder<T> {
    pub(crate) fn new(
        component: String,
        registry: Registry,
        tracer: Tracer,
        app: ApplicationTags,
        owner: Option<Arc<dyn Owner>>,
    ) -> Self {
        InstrumentationBuilder {
            component,
            registry,
            tracer,
            app,
            max_routes: DEFAULT_MAX_ROUTES,
            cpu: true,
            owner,
            output: PhantomData,
        }
    }

    /// The series prefix and heartbeat component (each adapter's default is
    /// its framework's name: `axum`, `warp`, `rocket`).
    pub fn component(mut self, name: impl Into<String>) -> Self {
        self.component = name.into();
        self
    }

    /// Most distinct (route, method) pairs (default 1,000); requests on
    /// further routes are recorded under the route `overflow` and counted in
    /// `~sdk.rust.<component>.routes.overflow.count`.
    pub fn max_routes(mut self, max: usize) -> Self {
        self.max_routes = max.max(1);
        self
    }

    /// Whether [`Instrumented`] measures each request's CPU time for the
    /// `cpu_ns` histograms (default on). Each poll of a request's future then
    /// costs two `clock_gettime` calls (a few hundred nanoseconds); off, no
    /// `cpu_ns` histogram is sent.
    pub fn cpu_time(mut self, on: bool) -> Self {
        self.cpu = on;
        self
    }

    /// The instrumentation (or the adapter made from it); built from a
    /// reporter, it also registers the component's heartbeat.
    #[must_use]
    pub fn build(self) -> T {
        let naming = Naming::new(&self.component);
        let routes = Routes::new(&naming, &self.app, self.registry, self.max_routes);
        let component = Text::interned(naming.component());
        let func_key = Text::interned(naming.func_key());
        if let Some(owner) = &self.owner {
            owner.add_component(naming.component());
        }
        T::from(Instrumentation(Arc::new(Inner {
            _owner: self.owner,
            naming,
            component,
            func_key,
            tracer: self.tracer,
            routes,
            cpu: self.cpu,
        })))
    }
}

impl Instrumentation {
    /// Starts the instrumentation of `component` (`axum`, …), recording into
    /// `registry` and `tracer`. With a [`Reporter`](crate::reporter::Reporter),
    /// [`Reporter::instrumentation`](crate::reporter::Reporter::instrumentation)
    /// fills these in and registers the heartbeat.
    pub fn builder(
        component: impl Into<String>,
        registry: Registry,
        tracer: Tracer,
        app: ApplicationTags,
    ) -> InstrumentationBuilder {
        InstrumentationBuilder::new(component.into(), registry, tracer, app, None)
    }

    /// The component name (the series prefix).
    #[must_use]
    pub fn component(&self) -> &str {
        self.0.naming.component()
    }

    /// The tracer.
    #[must_use]
    pub fn tracer(&self) -> &Tracer {
        &self.0.tracer
    }

    /// Whether [`Instrumented`] measures CPU time.
    #[must_use]
    pub fn measures_cpu(&self) -> bool {
        self.0.cpu
    }

    /// A stopwatch for this thread's CPU time, when this instrumentation
    /// measures it (`cpu_time`, on by default): for servers that time their
    /// own callbacks.
    #[must_use]
    pub fn cpu_stopwatch(&self) -> Option<CpuStopwatch> {
        self.0.cpu.then(CpuStopwatch::start).flatten()
    }

    /// A request arrived: counts it in flight and starts its span (as a child
    /// of an incoming context in its headers, if any). A route the request
    /// already carries ([`RequestInfo::route`]) is bound now.
    #[must_use]
    pub fn start(&self, request: &(impl RequestInfo + ?Sized)) -> RequestGuard {
        let inner = &*self.0;
        // With CPU time measured, one clock reading starts both the request
        // and the stopwatch of its first poll.
        let (first_poll, started) = if inner.cpu {
            CpuStopwatch::start_now()
        } else {
            (None, Instant::now())
        };
        inner.routes.total_inflight().inc();
        let method = MethodName::of(request.method());
        let route = request
            .route()
            .map(|template| inner.routes.route(template, method.as_str()));
        // Built in place, without moving the builder from call to call.
        let mut span = inner.tracer.span("request").started_at(started);
        span.add_parent(inner.tracer.extract(request.headers()).as_ref());
        span.add_tag("component", inner.component.clone());
        span.add_tag("span.kind", "server");
        span.add_tag("http.method", method.as_str());
        span.add_tag_written("http.url", |url| write_span_url(request, url));
        let span = span.start();
        RequestGuard {
            inst: self.clone(),
            method,
            route,
            func: None,
            status: None,
            error: None,
            started,
            first_poll: first_poll.as_ref().and_then(CpuStopwatch::mark),
            responded: None,
            ends_with_response: false,
            cpu_ns: None,
            span: OwnedSpan::new(span),
        }
    }
}

impl fmt::Debug for Instrumentation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Instrumentation")
            .field("component", &self.component())
            .finish_non_exhaustive()
    }
}

/// Status recorded for a request whose response was never produced (the
/// client went away first), as nginx and Envoy do.
pub const CLIENT_CLOSED_REQUEST: u16 = 499;

/// One request in flight; dropping it records the request.
pub struct RequestGuard {
    inst: Instrumentation,
    method: MethodName,
    route: Option<Arc<RouteEntry>>,
    /// The handler the per-route in-flight gauge is counted on.
    func: Option<Arc<FuncHandles>>,
    status: Option<u16>,
    error: Option<Cow<'static, str>>,
    started: Instant,
    /// The stopwatch started with the request (at `started`), for its
    /// first poll.
    first_poll: Option<StartMark>,
    /// When the future that made the response completed, if the clock was
    /// read then (for its CPU time).
    responded: Option<Instant>,
    /// The request ends with its response ([`Self::finish_at_response`]).
    ends_with_response: bool,
    /// `None` until CPU time is measured: a request nobody measured sends no
    /// `cpu_ns` sample rather than a zero.
    cpu_ns: Option<u64>,
    span: OwnedSpan,
}

impl RequestGuard {
    /// The slot where routing announces the route and handler it matched
    /// (the span's: adapters put the span where routing code can reach it).
    /// The guard reads it after each poll of [`Instrumented`] and when the
    /// request ends.
    #[must_use]
    pub fn route_slot(&self) -> RouteSlot<'_> {
        RouteSlot::of(&self.span)
    }

    /// The request's span, for handlers (tags, logs, child spans).
    #[must_use]
    pub fn span(&self) -> &SpanHandle {
        &self.span
    }

    /// Names the handler (the `<p>.func` tag and the span's operation). The
    /// request's in-flight count moves onto the named handler.
    pub fn set_handler(&mut self, name: impl Into<Cow<'static, str>>) {
        self.route_slot().set_handler(name);
        self.resolve(false);
    }

    /// Binds the route the server matched, for servers that route after the
    /// request has started (the first route bound wins). From now on the
    /// request counts in flight on that route, under its handler if one is
    /// named already, else under the route's fallback name
    /// (`GET /style/{id}/make`) until the handler names itself: when both are
    /// known at once, call [`set_handler`](Self::set_handler) first.
    pub fn set_route(&mut self, template: impl Into<Cow<'static, str>>) {
        self.route_slot().set_route(template);
        self.resolve(true);
    }

    /// Binds a route announced in the slot, and counts the request in flight
    /// on it once the handler is known. With `assume_fallback`, a bound
    /// route whose handler has not named itself uses the fallback name; a
    /// handler that names itself later takes the count over.
    pub(crate) fn resolve(&mut self, assume_fallback: bool) {
        let slot = RouteSlot::of(&self.span);
        if self.route.is_none() {
            let Some(template) = slot.route() else {
                return;
            };
            self.route = Some(self.inst.0.routes.route(template, self.method.as_str()));
        }
        let Some(route) = &self.route else { return };
        let wanted = match (slot.handler(), &self.func) {
            (Some(name), Some(current)) if &**current.func() == name => return,
            (Some(name), _) => route.func(name),
            (None, None) if assume_fallback => route.fallback(),
            (None, _) => return,
        };
        wanted.inflight().inc();
        if let Some(previous) = self.func.replace(wanted) {
            previous.inflight().dec();
        }
    }

    /// The response status (when the response head is ready).
    pub fn set_status(&mut self, status: u16) {
        self.status = Some(status);
    }

    /// Marks the request failed, with a message for the span log (the status
    /// is recorded as is; a panic is recorded as 500).
    pub fn set_error(&mut self, message: impl Into<Cow<'static, str>>) {
        self.error = Some(message.into());
    }

    /// Adds CPU time spent on this request; only requests with some CPU time
    /// added send a `cpu_ns` sample.
    pub fn add_cpu_ns(&mut self, ns: u64) {
        self.cpu_ns = Some(self.cpu_ns.unwrap_or(0).saturating_add(ns));
    }

    /// Whether CPU time is to be measured (the instrumentation's setting).
    #[must_use]
    pub fn measures_cpu(&self) -> bool {
        self.inst.0.cpu
    }

    /// A stopwatch for a poll of the request's future on this thread: the
    /// one started with the request for the first poll (sparing a clock
    /// reading, and counting what the server did for the request before
    /// it: routing, the handler's call), else a new one; `None` when CPU
    /// time is not measured. The first poll is expected on the thread and
    /// in the task that started the request, right after; on another
    /// thread it gets a stopwatch of its own.
    pub(crate) fn poll_stopwatch(&mut self) -> Option<CpuStopwatch> {
        if !self.measures_cpu() {
            return None;
        }
        self.first_poll
            .take()
            .map(|mark| CpuStopwatch::resume(mark, self.started))
            .filter(CpuStopwatch::started_on_this_thread)
            .or_else(|| self.inst.cpu_stopwatch())
    }

    /// Ends a poll timed by `stopwatch`: its CPU time is added, and when the
    /// poll produced the response, the time of that reading is when the
    /// response was made.
    pub(crate) fn end_poll(&mut self, stopwatch: Option<CpuStopwatch>, ready: bool) {
        let Some((ns, now)) = stopwatch.map(|s| s.elapsed_now()) else {
            return;
        };
        if let Some(ns) = ns {
            self.add_cpu_ns(ns);
        }
        if ready {
            self.responded = Some(now);
        }
    }

    /// Records the request as ended when its response was made (the end of
    /// the poll that made it, if CPU time read the clock then; now
    /// otherwise): for a response whose body goes out with its head, this
    /// spares a clock reading.
    pub fn finish_at_response(mut self) {
        self.ends_with_response = true;
    }

    /// Wraps the future that produces the response: CPU time per poll,
    /// routes and handler names announced in the slot, panics.
    pub fn instrument<F>(self, future: F) -> Instrumented<F> {
        Instrumented::new(future, self, None)
    }

    /// [`instrument`](Self::instrument), with the handle of the span the
    /// caller entered already (see [`crate::trace::enter_kept`]).
    #[cfg(feature = "http")]
    pub(crate) fn instrument_kept<F>(
        self,
        future: F,
        current: Option<SpanHandle>,
    ) -> Instrumented<F> {
        Instrumented::new(future, self, current)
    }

    fn finish(&mut self) {
        self.resolve(false);
        let inst = &*self.inst.0;
        inst.routes.total_inflight().dec();
        let counted = self.func.take();
        if let Some(func) = &counted {
            func.inflight().dec();
        }
        let status = self.status.unwrap_or(CLIENT_CLOSED_REQUEST);
        let named = RouteSlot::of(&self.span).handler();
        // Unmatched: no route, or a route that refused the method (405)
        // before any handler ran.
        let unmatched = self.route.is_none() || (named.is_none() && status == 405);
        let func = match (&self.route, counted, named) {
            (Some(_), Some(func), _) if !unmatched => func,
            (Some(route), _, Some(name)) => route.func(name),
            (Some(route), _, None) if !unmatched => route.fallback(),
            _ => inst.routes.unmatched(self.method.as_str()).fallback(),
        };
        let ended = match self.responded {
            Some(at) if self.ends_with_response => at,
            _ => Instant::now(),
        };
        let elapsed_ns = crate::clock::nanos_between(self.started, ended);
        let cpu_ns = self.cpu_ns.filter(|_| inst.cpu);
        let status_text = inst.routes.record(&func, status, elapsed_ns, cpu_ns);

        let error = self.error.take();
        self.span.finish_with(ended, |span| {
            span.operation = func.func().clone();
            span.set_tag(inst.func_key.clone(), func.func().clone());
            span.set_tag("http.status_code".into(), status_text);
            // An error (4xx/5xx, a panic, or `error=true` set by the handler)
            // gets `error=true` and one span log saying what happened.
            let (marked, logged) = span.error_state();
            let error_status = crate::naming::is_error_status(status);
            if error_status || error.is_some() || marked {
                span.set_error();
                if !logged {
                    span.log_error(match error {
                        Some(message) => message,
                        None if error_status => status_message(status),
                        None => "marked as an error by the handler".into(),
                    });
                }
            }
        });
    }
}

impl Drop for RequestGuard {
    fn drop(&mut self) {
        self.finish();
    }
}

impl fmt::Debug for RequestGuard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RequestGuard")
            .field("method", &self.method.as_str())
            .field("route", &self.route_slot().route())
            .field("handler", &self.route_slot().handler())
            .field("status", &self.status)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests;
