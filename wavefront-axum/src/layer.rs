//! [`WavefrontLayer`]: the core's [`HttpLayer`] with axum's `MatchedPath` as
//! the route, and axum's own `Body` as the response body.

use axum::body::{Body, Bytes};
use axum::extract::MatchedPath;
use axum::BoxError;
use http::Request;
use tower_layer::Layer;
use wavefront_core::lifecycle::{
    ends_with_response, BodyJoin, HttpLayer, HttpService, Instrumentation, InstrumentationBuilder,
    InstrumentedBody, RequestGuard, RouteExtractor,
};
use wavefront_core::reporter::Reporter;

use crate::COMPONENT;

/// Records every request of the router it wraps. See the [crate docs](crate).
#[derive(Debug, Clone)]
pub struct WavefrontLayer(HttpLayer<AxumRoute, AxumBody>);

/// The route of an axum request: its [`MatchedPath`] (nested routers give the
/// joined template).
#[derive(Debug, Clone, Copy, Default)]
pub struct AxumRoute;

impl RouteExtractor for AxumRoute {
    fn route<'r, B>(&self, request: &'r Request<B>) -> Option<&'r str> {
        request
            .extensions()
            .get::<MatchedPath>()
            .map(MatchedPath::as_str)
    }
}

/// Response bodies as axum's own [`Body`]: axum boxes any other type (an
/// allocation a request), so an answer already made goes through unwrapped,
/// its request recorded as the response leaves the layer; only a streamed
/// or large body is wrapped, to record its request when it has been sent.
#[derive(Debug, Clone, Copy, Default)]
pub struct AxumBody;

impl<B> BodyJoin<B> for AxumBody
where
    B: http_body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
{
    type Body = Body;

    fn join(&self, body: B, guard: RequestGuard) -> Body {
        if ends_with_response(&body) {
            guard.finish_at_response();
            Body::new(body) // no box when `body` is a `Body` already
        } else {
            Body::new(InstrumentedBody::new(body, guard))
        }
    }
}

/// The service of [`WavefrontLayer`].
pub type WavefrontService<S> = HttpService<S, AxumRoute, AxumBody>;

impl WavefrontLayer {
    /// A layer reporting through `reporter`, with default settings.
    #[must_use]
    pub fn new(reporter: &Reporter) -> Self {
        Self::builder(reporter).build()
    }

    /// A layer with settings (component, route cap, CPU time); building it
    /// registers the component's heartbeat.
    ///
    /// ```
    /// # let reporter = wavefront_core::reporter::Reporter::from_env(
    /// #     &wavefront_core::ApplicationTags::builder("Ordering", "styling").build()?)?;
    /// use wavefront_axum::WavefrontLayer;
    ///
    /// let layer: WavefrontLayer = WavefrontLayer::builder(&reporter).cpu_time(false).build();
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn builder(reporter: &Reporter) -> InstrumentationBuilder<WavefrontLayer> {
        reporter.instrumentation(COMPONENT)
    }
}

impl From<Instrumentation> for WavefrontLayer {
    fn from(instrumentation: Instrumentation) -> Self {
        WavefrontLayer(HttpLayer::with_bodies(instrumentation, AxumRoute, AxumBody))
    }
}

impl<S> Layer<S> for WavefrontLayer {
    type Service = WavefrontService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        self.0.layer(inner)
    }
}
