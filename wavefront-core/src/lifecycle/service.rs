//! [`HttpLayer`]: the tower `Layer` + `Service` pair every `http`-based
//! adapter shares. It does what is the same for every framework on
//! `http::Request`/`http::Response` (the URL, the status, panics, the end of
//! the body); an adapter contributes a [`RouteExtractor`], the way its
//! framework tells a request's route template, and may contribute a
//! [`BodyJoin`], the way its framework takes response bodies.

use std::borrow::Cow;
use std::future::Future;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use http::{Request, Response};
use pin_project_lite::pin_project;
use tower_layer::Layer;
use tower_service::Service;

use super::{push_request_url, BodyJoin, Instrumentation, Instrumented, RequestInfo, WrapBody};
use crate::trace::Headers;

/// How a framework tells the route template of a request before its handler
/// runs (axum's `MatchedPath` extension). Frameworks that route later
/// announce the route through the [`RouteSlot`](super::RouteSlot) of the
/// request's span (the [current one](crate::trace::current_span) while its
/// service runs) instead, and use [`MatchedRoute::Later`].
pub trait RouteExtractor: Clone {
    /// The template of `request`'s route (`/style/{id}/make`), or `None`.
    fn route<'r, B>(&self, request: &'r Request<B>) -> Option<&'r str>;
}

/// The [`RouteExtractor`] of frameworks that know no route when the request
/// reaches the layer: routing code fills the [`RouteSlot`](super::RouteSlot)
/// of the [current span](crate::trace::current_span).
#[derive(Debug, Clone, Copy, Default)]
pub enum MatchedRoute {
    /// The route is announced in the [`RouteSlot`](super::RouteSlot) later.
    #[default]
    Later,
}

impl RouteExtractor for MatchedRoute {
    fn route<'r, B>(&self, _request: &'r Request<B>) -> Option<&'r str> {
        None
    }
}

/// Records every request of the service it wraps; adapters wrap it in their
/// own `WavefrontLayer`. Response bodies reach the framework through `J`
/// (wrapped in an [`InstrumentedBody`](super::InstrumentedBody) by default).
#[derive(Debug, Clone)]
pub struct HttpLayer<R, J = WrapBody> {
    instrumentation: Instrumentation,
    routes: R,
    bodies: J,
}

impl<R: RouteExtractor> HttpLayer<R> {
    /// A layer recording into `instrumentation`, finding routes with `routes`.
    #[must_use]
    pub fn new(instrumentation: Instrumentation, routes: R) -> Self {
        Self::with_bodies(instrumentation, routes, WrapBody)
    }
}

impl<R: RouteExtractor, J: Clone> HttpLayer<R, J> {
    /// A layer that hands response bodies to the framework through `bodies`.
    #[must_use]
    pub fn with_bodies(instrumentation: Instrumentation, routes: R, bodies: J) -> Self {
        HttpLayer {
            instrumentation,
            routes,
            bodies,
        }
    }

    /// The instrumentation recorded into.
    #[must_use]
    pub fn instrumentation(&self) -> &Instrumentation {
        &self.instrumentation
    }
}

impl<S, R: RouteExtractor, J: Clone> Layer<S> for HttpLayer<R, J> {
    type Service = HttpService<S, R, J>;

    fn layer(&self, inner: S) -> Self::Service {
        HttpService {
            inner,
            layer: self.clone(),
        }
    }
}

/// The service of [`HttpLayer`]. The request's span is the
/// [current span](crate::trace::current_span) while the inner service is
/// called and while its future is polled: handlers reach it there, and
/// routing code announces the route through its
/// [`RouteSlot`](super::RouteSlot).
#[derive(Debug, Clone)]
pub struct HttpService<S, R, J = WrapBody> {
    inner: S,
    layer: HttpLayer<R, J>,
}

/// An `http` request as the core sees it.
struct HttpRequest<'a, B, R> {
    request: &'a Request<B>,
    routes: &'a R,
}

impl<B, R: RouteExtractor> RequestInfo for HttpRequest<'_, B, R> {
    fn method(&self) -> &str {
        self.request.method().as_str()
    }

    fn route(&self) -> Option<&str> {
        self.routes.route(self.request)
    }

    fn url(&self) -> Cow<'_, str> {
        let mut url = String::new();
        self.write_url(&mut url);
        Cow::Owned(url)
    }

    fn write_url(&self, out: &mut String) {
        let uri = self.request.uri();
        let host = uri.authority().map(|a| a.as_str()).or_else(|| {
            self.request
                .headers()
                .get(http::header::HOST)
                .and_then(|h| h.to_str().ok())
        });
        push_request_url(out, uri.scheme_str().unwrap_or("http"), host, uri.path());
    }

    fn headers(&self) -> &dyn Headers {
        self.request.headers()
    }
}

impl<S, R, J, ReqBody, ResBody> Service<Request<ReqBody>> for HttpService<S, R, J>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
    R: RouteExtractor,
    J: BodyJoin<ResBody>,
{
    type Response = Response<J::Body>;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future, J>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<ReqBody>) -> Self::Future {
        let guard = self.layer.instrumentation.start(&HttpRequest {
            request: &request,
            routes: &self.layer.routes,
        });
        // Routing code and handlers find the request's span as the current
        // one: while the inner service is called here, and while its future
        // is polled (no request extension, which would cost an allocation).
        let mut current = None;
        let called = {
            let _current = crate::trace::enter_kept(guard.span(), &mut current);
            self.inner.call(request)
        };
        ResponseFuture {
            inner: guard.instrument_kept(called, current),
            bodies: self.layer.bodies.clone(),
        }
    }
}

pin_project! {
    /// The response future of [`HttpService`].
    #[must_use = "futures do nothing unless polled"]
    pub struct ResponseFuture<F, J = WrapBody> {
        #[pin]
        inner: Instrumented<F>,
        bodies: J,
    }
}

impl<F, J> std::fmt::Debug for ResponseFuture<F, J> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResponseFuture").finish_non_exhaustive()
    }
}

impl<F, B, E, J> Future for ResponseFuture<F, J>
where
    F: Future<Output = Result<Response<B>, E>>,
    J: BodyJoin<B>,
{
    type Output = Result<Response<J::Body>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let (result, mut guard) = ready!(this.inner.poll(cx));
        Poll::Ready(match result {
            Ok(response) => {
                guard.set_status(response.status().as_u16());
                // The guard rides with the body (or ends here, as the join
                // decides): the request ends when the body has been sent.
                Ok(response.map(|body| this.bodies.join(body, guard)))
            }
            Err(error) => {
                guard.set_status(500);
                guard.set_error("the service failed before responding");
                Err(error)
            }
        })
    }
}
