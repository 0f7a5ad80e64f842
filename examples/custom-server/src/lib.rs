//! The Shirts app on a plain hyper 1 server, no framework: the worked
//! example of instrumenting a server of your own with
//! [`wavefront_core::lifecycle`].
//!
//! ```text
//! GET|HEAD /style/{id}/make    200 "Shirts {id} made."   (make_shirts)
//! GET /bad-gateway             502                       (bad_gateway)
//! GET /orders/{order_id}/crash the handler panics: 500   (crash)
//! anything else                404
//! ```
//!
//! Per request the server does four things: describe the request
//! ([`RequestInfo`]) and [`start`](Instrumentation::start) a guard; tell the
//! guard the route and handler once its router has picked them; set the
//! status (and the error, for a panic); and hand the guard to the response
//! body ([`InstrumentedBody`]), which records the request when the body is
//! done or dropped.

use std::borrow::Cow;
use std::convert::Infallible;
use std::future::Future;
use std::panic::{catch_unwind, AssertUnwindSafe};

use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::{Request, Response, StatusCode};
use wavefront_core::cpu::CpuStopwatch;
use wavefront_core::lifecycle::{
    panic_message, request_url, Instrumentation, InstrumentedBody, RequestInfo,
};
use wavefront_core::reporter::Reporter;
use wavefront_core::trace::Headers;

/// The series prefix and `component` of this server.
pub const COMPONENT: &str = "hyper";

/// What the SDK needs to know of a hyper request. The route is `None`: this
/// server routes after the request has started.
struct HyperRequest<'a>(&'a Request<Incoming>);

impl RequestInfo for HyperRequest<'_> {
    fn method(&self) -> &str {
        self.0.method().as_str()
    }

    fn route(&self) -> Option<&str> {
        None
    }

    fn url(&self) -> Cow<'_, str> {
        // Scheme, host and path; never the query.
        let host = self
            .0
            .headers()
            .get(hyper::header::HOST)
            .and_then(|h| h.to_str().ok());
        Cow::Owned(request_url("http", host, self.0.uri().path()))
    }

    fn headers(&self) -> &dyn Headers {
        self.0.headers() // for an incoming trace context (Wavefront, W3C, B3)
    }
}

/// A route this server knows: its template, its handler's name, and the
/// handler.
struct Route {
    template: &'static str,
    handler: &'static str,
    run: Box<dyn FnOnce() -> Response<Full<Bytes>> + Send>,
}

/// The router: a plain match on the method and the path's segments.
fn route(method: &hyper::Method, path: &str) -> Option<Route> {
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    let get_or_head = method == hyper::Method::GET || method == hyper::Method::HEAD;
    match (
        get_or_head,
        method == hyper::Method::GET,
        segments.as_slice(),
    ) {
        (true, _, ["style", id, "make"]) => {
            let body = format!("Shirts {id} made.");
            Some(Route {
                template: "/style/{id}/make",
                handler: "make_shirts",
                run: Box::new(move || Response::new(Full::from(body))),
            })
        }
        (_, true, ["bad-gateway"]) => Some(Route {
            template: "/bad-gateway",
            handler: "bad_gateway",
            run: Box::new(|| status(StatusCode::BAD_GATEWAY)),
        }),
        (_, true, ["orders", order_id, "crash"]) => {
            let message = format!("order {order_id} cannot be processed");
            Some(Route {
                template: "/orders/{order_id}/crash",
                handler: "crash",
                run: Box::new(move || panic!("{message}")),
            })
        }
        _ => None,
    }
}

fn status(status: StatusCode) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::default());
    *response.status_mut() = status;
    response
}

/// Handles one request, instrumented.
fn handle(
    instrumentation: &Instrumentation,
    request: &Request<Incoming>,
) -> Response<InstrumentedBody<Full<Bytes>>> {
    // 1. The request arrived: in flight, span started (continuing an
    //    incoming trace).
    let mut guard = instrumentation.start(&HyperRequest(request));
    // Routing and the handler run on this thread, without awaiting: the
    // request's CPU time is this thread's CPU time meanwhile.
    let stopwatch = CpuStopwatch::start();
    let response = match route(request.method(), request.uri().path()) {
        Some(route) => {
            // 2. Routed: the handler first, then the route, so the request
            //    counts in flight under its handler's name right away.
            guard.set_handler(route.handler);
            guard.set_route(route.template);
            catch_unwind(AssertUnwindSafe(route.run)).unwrap_or_else(|panic| {
                // 3a. A panic: a 500 for the client, its message on the span.
                guard.set_error(panic_message(&*panic));
                status(StatusCode::INTERNAL_SERVER_ERROR)
            })
        }
        // No route: the guard is recorded under `unmatched`.
        None => status(StatusCode::NOT_FOUND),
    };
    if let Some(ns) = stopwatch.and_then(|s| s.elapsed_ns()) {
        guard.add_cpu_ns(ns);
    }
    // 3. The status, when the response head is ready.
    guard.set_status(response.status().as_u16());
    // 4. The body carries the guard: the request is recorded when the body
    //    has been sent, or dropped if the client went away.
    response.map(|body| InstrumentedBody::new(body, guard))
}

/// Serves the app on `listener` (HTTP/1), instrumented through `reporter`,
/// until `shutdown` completes; open connections then finish their requests.
pub fn serve(
    listener: tokio::net::TcpListener,
    reporter: &Reporter,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> impl Future<Output = std::io::Result<()>> + Send + 'static {
    // Registers the `hyper` heartbeat.
    let instrumentation: Instrumentation = reporter.instrumentation(COMPONENT).build();
    async move {
        let mut shutdown = std::pin::pin!(shutdown);
        let (closing, closed) = tokio::sync::watch::channel(false);
        loop {
            let stream = tokio::select! {
                accepted = listener.accept() => match accepted {
                    Ok((stream, _)) => stream,
                    Err(_) => continue,
                },
                () = &mut shutdown => break,
            };
            let instrumentation = instrumentation.clone();
            let mut closed = closed.clone();
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |request| {
                    let response = handle(&instrumentation, &request);
                    async move { Ok::<_, Infallible>(response) }
                });
                let connection = hyper::server::conn::http1::Builder::new()
                    .serve_connection(hyper_util::rt::TokioIo::new(stream), service);
                let mut connection = std::pin::pin!(connection);
                tokio::select! {
                    _ = connection.as_mut() => {}
                    _ = closed.changed() => {
                        connection.as_mut().graceful_shutdown();
                        let _ = connection.await;
                    }
                }
            });
        }
        // Ask every connection to finish its request, and wait for them all.
        drop(closed);
        let _ = closing.send(true);
        closing.closed().await;
        Ok(())
    }
}
