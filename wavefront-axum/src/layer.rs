//! [`WavefrontLayer`]: the core's [`HttpLayer`] with axum's `MatchedPath` as
//! the route.

use axum::extract::MatchedPath;
use http::Request;
use tower_layer::Layer;
use wavefront_core::lifecycle::{
    HttpLayer, HttpService, Instrumentation, InstrumentationBuilder, RouteExtractor,
};
use wavefront_core::reporter::Reporter;

use crate::COMPONENT;

/// Records every request of the router it wraps. See the [crate docs](crate).
#[derive(Debug, Clone)]
pub struct WavefrontLayer(HttpLayer<AxumRoute>);

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

/// The service of [`WavefrontLayer`].
pub type WavefrontService<S> = HttpService<S, AxumRoute>;

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
        WavefrontLayer(HttpLayer::new(instrumentation, AxumRoute))
    }
}

impl<S> Layer<S> for WavefrontLayer {
    type Service = WavefrontService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        self.0.layer(inner)
    }
}
