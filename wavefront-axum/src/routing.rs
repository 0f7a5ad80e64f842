//! Drop-in replacements for axum's routing functions that record the
//! handler's name, and [`named`] / [`named_as`] for handlers routed any
//! other way.
//!
//! ```
//! use axum::Router;
//! use wavefront_axum::routing::{get, post};
//! use wavefront_axum::named;
//!
//! async fn list_orders() {}
//! async fn create_order() {}
//! async fn delete_order() {}
//!
//! let app: Router = Router::new()
//!     .route("/orders", get(list_orders).post(named(create_order)))
//!     .route("/orders/{id}", axum::routing::delete(named(delete_order)));
//! ```

use std::any::type_name;

use axum::extract::Request;
use axum::handler::Handler;
use axum::routing::MethodRouter;
use wavefront_core::lifecycle::RouteSlot;

/// A handler that records its name for the Wavefront layer, then runs.
#[derive(Debug, Clone)]
pub struct Named<H> {
    handler: H,
    name: &'static str,
}

/// The last path segment of a type name: `my_app::orders::create_order` is
/// `create_order`.
fn short_name(full: &'static str) -> &'static str {
    let base = full.split('<').next().unwrap_or(full);
    base.rsplit("::")
        .next()
        .filter(|s| !s.is_empty())
        .unwrap_or(full)
}

/// Wraps `handler` so that its function name (the last segment of its type
/// name) is recorded. For closures, whose type name says nothing, use
/// [`named_as`].
pub fn named<H>(handler: H) -> Named<H> {
    Named {
        name: short_name(type_name::<H>()),
        handler,
    }
}

/// Wraps `handler` under the name `name`.
pub fn named_as<H>(name: &'static str, handler: H) -> Named<H> {
    Named { handler, name }
}

impl<H> Named<H> {
    /// The recorded name.
    #[must_use]
    pub fn name(&self) -> &'static str {
        self.name
    }
}

impl<H, T, S> Handler<T, S> for Named<H>
where
    H: Handler<T, S>,
{
    type Future = H::Future;

    fn call(self, request: Request, state: S) -> Self::Future {
        // Called from the layer's service, where the request's span is current.
        RouteSlot::with_current(|slot| slot.set_handler(self.name));
        self.handler.call(request, state)
    }
}

macro_rules! method_fns {
    ($($method:ident),*) => {$(
        #[doc = concat!("[`axum::routing::", stringify!($method), "`] for a handler that records its name.")]
        pub fn $method<H, T, S>(handler: H) -> MethodRouter<S>
        where
            H: Handler<T, S>,
            T: 'static,
            S: Clone + Send + Sync + 'static,
        {
            axum::routing::$method(named(handler))
        }
    )*};
}

method_fns!(get, post, put, delete, patch, head, options, trace, any);

#[cfg(test)]
mod tests {
    use super::*;

    async fn make_shirts() {}

    #[test]
    fn names_come_from_the_function() {
        assert_eq!(named(make_shirts).name(), "make_shirts");
        assert_eq!(short_name("a::b::c<x::y>"), "c");
        assert_eq!(named_as("custom", || async {}).name(), "custom");
    }
}
