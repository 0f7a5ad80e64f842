//! A [`reqwest-middleware`](https://docs.rs/reqwest-middleware) layer for
//! Wavefront: each call made while a request is handled gets a client span,
//! a child of the current span, and carries the trace to the called service.
//!
//! ```
//! use wavefront_reqwest::WavefrontMiddleware;
//!
//! let client = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
//!     .with(WavefrontMiddleware::default())
//!     .build();
//! # drop(client);
//! ```
//!
//! The client span: operation `HTTP <method>`, tags `span.kind=client`,
//! `component=reqwest`, `http.method`, `http.url` (scheme, host, port and
//! path; never the query), `http.status_code`, and `error=true` with a span
//! log on a 5xx or a transport error. Its context goes out in the tracer's
//! propagation headers (Wavefront and W3C by default), so a called service
//! instrumented with any Wavefront or OpenTelemetry SDK continues the trace.
//!
//! The current span is the request's ([`wavefront_core::trace::current_span`]),
//! or, with `wavefront-tracing`, the entered `tracing` span's. A call made
//! outside any request passes through untouched.

use std::borrow::Cow;

use http::Extensions;
use reqwest::{Request, Response};
use reqwest_middleware::{Middleware, Next, Result};
use wavefront_core::trace::{current_span, SpanHandle, Text};

/// The middleware. See the [crate docs](crate).
#[derive(Debug, Clone, Copy, Default)]
pub struct WavefrontMiddleware;

/// `scheme://host[:port]/path` of `url`: no user-info, query or fragment.
fn url_without_query(url: &reqwest::Url) -> String {
    let mut text = format!("{}://{}", url.scheme(), url.host_str().unwrap_or(""));
    if let Some(port) = url.port() {
        text.push(':');
        text.push_str(&port.to_string());
    }
    text.push_str(url.path());
    text
}

fn fail(span: &SpanHandle, message: String) {
    span.set_error();
    span.log(vec![
        (Cow::Borrowed("event"), Cow::Borrowed("error")),
        (Cow::Borrowed("message"), Cow::Owned(message)),
    ]);
}

#[async_trait::async_trait]
impl Middleware for WavefrontMiddleware {
    async fn handle(
        &self,
        mut request: Request,
        extensions: &mut Extensions,
        next: Next<'_>,
    ) -> Result<Response> {
        let Some(parent) = current_span() else {
            return next.run(request, extensions).await;
        };
        let method = request.method().as_str().to_owned();
        let span = parent.child(format!("HTTP {method}"));
        span.set_tag("span.kind", "client");
        span.set_tag("component", "reqwest");
        span.set_tag("http.method", Text::from(method));
        span.set_tag("http.url", Text::from(url_without_query(request.url())));
        span.inject(request.headers_mut());
        let result = next.run(request, extensions).await;
        match &result {
            Ok(response) => {
                let status = response.status();
                span.set_tag("http.status_code", Text::from(status.as_u16().to_string()));
                if status.is_server_error() {
                    fail(&span, format!("HTTP {}", status.as_u16()));
                }
            }
            Err(error) => fail(&span, error.to_string()),
        }
        span.finish();
        result
    }
}
