//! [`WavefrontLayer`]: the tower `Layer` + `Service` pair.

use std::borrow::Cow;
use std::future::Future;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use axum::extract::MatchedPath;
use http::{Request, Response};
use pin_project_lite::pin_project;
use tower_layer::Layer;
use tower_service::Service;
use wavefront_core::lifecycle::{Instrumentation, Instrumented, InstrumentedBody, RequestInfo};
use wavefront_core::reporter::Reporter;
use wavefront_core::trace::Headers;

use crate::COMPONENT;

/// Records every request of the router it wraps. See the [crate docs](crate).
#[derive(Debug, Clone)]
pub struct WavefrontLayer {
    instrumentation: Instrumentation,
}

/// Builds a [`WavefrontLayer`] with settings.
#[derive(Debug)]
#[must_use]
pub struct WavefrontLayerBuilder<'a> {
    reporter: &'a Reporter,
    component: String,
    max_routes: usize,
    cpu_time: bool,
}

impl WavefrontLayer {
    /// A layer reporting through `reporter`, with default settings.
    #[must_use]
    pub fn new(reporter: &Reporter) -> Self {
        Self::builder(reporter).build()
    }

    /// A layer with settings.
    pub fn builder(reporter: &Reporter) -> WavefrontLayerBuilder<'_> {
        WavefrontLayerBuilder {
            reporter,
            component: COMPONENT.to_owned(),
            max_routes: wavefront_core::lifecycle::DEFAULT_MAX_ROUTES,
            cpu_time: true,
        }
    }
}

impl WavefrontLayerBuilder<'_> {
    /// The series prefix and heartbeat component (default `axum`).
    pub fn component(mut self, name: impl Into<String>) -> Self {
        self.component = name.into();
        self
    }

    /// Most distinct (route, method) pairs before further routes share the
    /// route `overflow` (default 1,000).
    pub fn max_routes(mut self, max: usize) -> Self {
        self.max_routes = max;
        self
    }

    /// Whether to measure each request's CPU time (`cpu_ns`, default on;
    /// about two `clock_gettime` calls per poll).
    pub fn cpu_time(mut self, on: bool) -> Self {
        self.cpu_time = on;
        self
    }

    /// The layer; registers the component's heartbeat.
    #[must_use]
    pub fn build(self) -> WavefrontLayer {
        self.reporter.add_component(&self.component);
        let instrumentation = Instrumentation::builder(
            self.component,
            self.reporter.registry().clone(),
            self.reporter.tracer().clone(),
            self.reporter.application_tags().clone(),
        )
        .max_routes(self.max_routes)
        .cpu_time(self.cpu_time)
        .build();
        WavefrontLayer { instrumentation }
    }
}

impl<S> Layer<S> for WavefrontLayer {
    type Service = WavefrontService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        WavefrontService {
            inner,
            instrumentation: self.instrumentation.clone(),
        }
    }
}

/// The service of [`WavefrontLayer`].
#[derive(Debug, Clone)]
pub struct WavefrontService<S> {
    inner: S,
    instrumentation: Instrumentation,
}

/// An axum request as the core sees it.
struct AxumRequest<'a, B>(&'a Request<B>);

impl<B> RequestInfo for AxumRequest<'_, B> {
    fn method(&self) -> &str {
        self.0.method().as_str()
    }

    fn route(&self) -> Option<&str> {
        self.0
            .extensions()
            .get::<MatchedPath>()
            .map(MatchedPath::as_str)
    }

    fn url(&self) -> Cow<'_, str> {
        // `base_url` as Flask has it: scheme, host and path, no query.
        let uri = self.0.uri();
        let scheme = uri.scheme_str().unwrap_or("http");
        let host = uri
            .authority()
            .map(|a| a.as_str())
            .or_else(|| {
                self.0
                    .headers()
                    .get(http::header::HOST)
                    .and_then(|h| h.to_str().ok())
            })
            .unwrap_or("localhost");
        Cow::Owned(format!("{scheme}://{host}{}", uri.path()))
    }

    fn headers(&self) -> &dyn Headers {
        self.0.headers()
    }
}

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for WavefrontService<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
{
    type Response = Response<InstrumentedBody<ResBody>>;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request<ReqBody>) -> Self::Future {
        let guard = self.instrumentation.start(&AxumRequest(&request));
        request.extensions_mut().insert(guard.handler_slot());
        request.extensions_mut().insert(guard.span().clone());
        ResponseFuture {
            inner: guard.instrument(self.inner.call(request)),
        }
    }
}

pin_project! {
    /// The response future of [`WavefrontService`].
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
