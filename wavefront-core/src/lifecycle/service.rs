//! [`HttpLayer`]: the tower `Layer` + `Service` pair every `http`-based
//! adapter shares. It does what is the same for every framework on
//! `http::Request`/`http::Response` (the URL, the status, panics, the end of
//! the body); an adapter contributes only a [`RouteExtractor`], the way its
//! framework tells a request's route template.

use std::borrow::Cow;
use std::future::Future;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use http::{Request, Response};
use pin_project_lite::pin_project;
use tower_layer::Layer;
use tower_service::Service;

use super::{push_request_url, Instrumentation, Instrumented, InstrumentedBody, RequestInfo};
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
/// own `WavefrontLayer`.
#[derive(Debug, Clone)]
pub struct HttpLayer<R> {
    instrumentation: Instrumentation,
    routes: R,
}

impl<R: RouteExtractor> HttpLayer<R> {
    /// A layer recording into `instrumentation`, finding routes with `routes`.
    #[must_use]
    pub fn new(instrumentation: Instrumentation, routes: R) -> Self {
        HttpLayer {
            instrumentation,
            routes,
        }
    }

    /// The instrumentation recorded into.
    #[must_use]
    pub fn instrumentation(&self) -> &Instrumentation {
        &self.instrumentation
    }
}

impl<S, R: RouteExtractor> Layer<S> for HttpLayer<R> {
    type Service = HttpService<S, R>;

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
pub struct HttpService<S, R> {
    inner: S,
    layer: HttpLayer<R>,
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

impl<S, R, ReqBody, ResBody> Service<Request<ReqBody>> for HttpService<S, R>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
    R: RouteExtractor,
{
    type Response = Response<InstrumentedBody<ResBody>>;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future>;

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
        }
    }
}

pin_project! {
    /// The response future of [`HttpService`].
    #[must_use = "futures do nothing unless polled"]
    pub struct ResponseFuture<F> {
        #[pin]
        inner: Instrumented<F>,
    }
}

impl<F> std::fmt::Debug for ResponseFuture<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResponseFuture").finish_non_exhaustive()
    }
}

impl<F, B, E> Future for ResponseFuture<F>
where
    F: Future<Output = Result<Response<B>, E>>,
{
    type Output = Result<Response<InstrumentedBody<B>>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let (result, mut guard) = ready!(self.project().inner.poll(cx));
        Poll::Ready(match result {
            Ok(response) => {
                guard.set_status(response.status().as_u16());
                // The guard rides with the body: the request ends when the
                // body has been sent or dropped.
                Ok(response.map(|body| InstrumentedBody::new(body, guard)))
            }
            Err(error) => {
                guard.set_status(500);
                guard.set_error("the service failed before responding");
                Err(error)
            }
        })
    }
}
