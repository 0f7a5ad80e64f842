//! [`WavefrontLayer`] (the core's [`HttpLayer`], routes announced later) and
//! the [`route`] marker that announces them.

use std::convert::Infallible;

use tower_layer::Layer;
use warp::Filter;
use wavefront_core::lifecycle::{
    HttpLayer, HttpService, Instrumentation, InstrumentationBuilder, MatchedRoute, RouteSlot,
};
use wavefront_core::reporter::Reporter;
use wavefront_core::trace::{current_span, SpanHandle};

use crate::COMPONENT;

/// Records every request of the `warp::service` it wraps. See the
/// [crate docs](crate).
#[derive(Debug, Clone)]
pub struct WavefrontLayer(HttpLayer<MatchedRoute>);

/// The service of [`WavefrontLayer`].
pub type WavefrontService<S> = HttpService<S, MatchedRoute>;

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
    /// use wavefront_warp::WavefrontLayer;
    ///
    /// let layer: WavefrontLayer = WavefrontLayer::builder(&reporter).max_routes(200).build();
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn builder(reporter: &Reporter) -> InstrumentationBuilder<WavefrontLayer> {
        reporter.instrumentation(COMPONENT)
    }
}

impl From<Instrumentation> for WavefrontLayer {
    fn from(instrumentation: Instrumentation) -> Self {
        WavefrontLayer(HttpLayer::new(instrumentation, MatchedRoute::Later))
    }
}

impl<S> Layer<S> for WavefrontLayer {
    type Service = WavefrontService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        self.0.layer(inner)
    }
}

/// Marks a route: the request it is reached by is recorded under `template`
/// (`/style/{id}/make`, written as the other frameworks write templates) and
/// the handler name `handler`. Place it after the route's path and method
/// filters; it extracts nothing and never rejects.
///
/// ```
/// use warp::Filter;
/// use wavefront_warp::route;
///
/// let orders = warp::path!("orders" / u64)
///     .and(warp::get())
///     .and(route("/orders/{id}", "get_order"))
///     .map(|id: u64| format!("order {id}"));
/// ```
pub fn route(
    template: &'static str,
    handler: &'static str,
) -> impl Filter<Extract = (), Error = Infallible> + Clone + Send + Sync + 'static {
    // Filters run while the layer polls the request, with its span current.
    warp::any()
        .map(move || {
            RouteSlot::with_current(|slot| {
                slot.set_handler(handler);
                slot.set_route(template);
            });
        })
        .untuple_one()
}

/// Extracts the request's span (rejects when the layer is missing).
///
/// ```
/// use warp::Filter;
/// use wavefront_warp::{span, SpanHandle};
///
/// let checkout = warp::path!("checkout")
///     .and(span())
///     .map(|span: SpanHandle| {
///         span.set_tag("cart.items", "3");
///         "ok"
///     });
/// ```
pub fn span() -> impl Filter<Extract = (SpanHandle,), Error = warp::Rejection> + Copy {
    warp::any().and_then(|| async { current_span().ok_or_else(|| warp::reject::custom(NoSpan)) })
}

/// The rejection of [`span`] outside a request recorded by the layer.
#[derive(Debug)]
pub struct NoSpan;

impl warp::reject::Reject for NoSpan {}
