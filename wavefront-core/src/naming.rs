//! The metric naming scheme of the Wavefront framework SDKs (spec §6), for
//! any component prefix: `axum`, `warp`, `rocket`, or a custom server's name.
//!
//! For prefix `<p>`, route template `<r>`, method `<m>` and status `<s>`:
//!
//! | series | kind | tags |
//! |---|---|---|
//! | `<p>.request.<r>.<m>.inflight.value` | gauge | shard level + `<p>.func` |
//! | `<p>.total_requests.inflight.value` | gauge | shard level |
//! | `<p>.response.<r>.<m>.<s>.cumulative.count` | counter | shard level + `<p>.func` |
//! | `<p>.response.<r>.<m>.<s>.aggregated_per_{shard,service,cluster,application}.count` | delta counter | that level + `<p>.func` + `source=wavefront-provided` |
//! | `<p>.response.<r>.summary.<m>.<s>.latency` / `.cpu_ns` | minute histogram | shard level + `<p>.func` |
//! | `<p>.response.{completed,errors}.aggregated_per_source.count` | counter | shard level |
//! | `<p>.response.{completed,errors}.aggregated_per_{shard,…}.count` | delta counter | that level + `source=wavefront-provided` |
//!
//! Levels: *shard* carries application, cluster, service and shard;
//! *service* drops shard; *cluster* drops service; *application* keeps only
//! application. Unset cluster and shard read `none`.
//!
//! ```
//! use wavefront_core::naming::{Endpoint, Level, Naming, RouteTemplate};
//! use wavefront_core::ApplicationTags;
//!
//! let app = ApplicationTags::builder("Ordering", "styling").cluster("us-west-1").shard("primary").build()?;
//! let naming = Naming::new("axum");
//! let route = RouteTemplate::new("/style/{id}/make");
//! let endpoint = Endpoint { route: &route, method: "GET", func: "make_shirts" };
//!
//! let series = naming.response(&app, &endpoint, 200, Level::Service);
//! assert_eq!(series.name, "axum.response.style.id.make.GET.200.aggregated_per_service.count");
//! assert_eq!(series.tags, [
//!     ("application".to_owned(), "Ordering".to_owned()),
//!     ("cluster".to_owned(), "us-west-1".to_owned()),
//!     ("service".to_owned(), "styling".to_owned()),
//!     ("axum.func".to_owned(), "make_shirts".to_owned()),
//!     ("source".to_owned(), "wavefront-provided".to_owned()),
//! ]);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::fmt;
use std::sync::Arc;

use crate::tags::ApplicationTags;

/// The route name of the root path `/`.
pub const ROOT_ROUTE: &str = "root";
/// The route name every request that matched no route is recorded under
/// (404 fallbacks, 405s), so unknown paths never become series.
pub const UNMATCHED_ROUTE: &str = "unmatched";
/// The point tag value that makes the proxy file an aggregated series under
/// one shared source (spec §4.3).
pub const WAVEFRONT_PROVIDED: &str = "wavefront-provided";

/// A route template in the dotted form used in series names.
///
/// Every framework's syntax normalises the same way: the path is split on
/// `/` (empty segments and any query are dropped); a segment that is a whole
/// parameter (`{id}`, `{*rest}`, `<id>`, `<rest..>`, `<path:id>`) becomes the
/// parameter's name (Flask-style converters keep their `conv:` prefix);
/// other segments lose any `{}<>`; `-` becomes `_`. The root route is
/// [`ROOT_ROUTE`].
///
/// ```
/// use wavefront_core::naming::RouteTemplate;
///
/// assert_eq!(RouteTemplate::new("/style/{id}/make").as_str(), "style.id.make");
/// assert_eq!(RouteTemplate::new("/files/<rest..>").as_str(), "files.rest");
/// assert_eq!(RouteTemplate::new("/style/<path:id>/make").as_str(), "style.path:id.make");
/// assert_eq!(RouteTemplate::new("/bad-gateway").as_str(), "bad_gateway");
/// assert_eq!(RouteTemplate::new("/").as_str(), "root");
/// ```
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct RouteTemplate(Arc<str>);

impl RouteTemplate {
    /// Normalises a route template.
    #[must_use]
    pub fn new(template: &str) -> Self {
        let path = template.split('?').next().unwrap_or_default();
        let mut dotted = String::with_capacity(path.len());
        for segment in path.split('/').filter(|s| !s.is_empty()) {
            let start = dotted.len();
            if !dotted.is_empty() {
                dotted.push('.');
            }
            let name_start = dotted.len();
            push_segment(&mut dotted, segment);
            if dotted.len() == name_start {
                dotted.truncate(start);
            }
        }
        if dotted.is_empty() {
            dotted.push_str(ROOT_ROUTE);
        }
        RouteTemplate(dotted.into())
    }

    /// The route that unmatched requests are recorded under.
    #[must_use]
    pub fn unmatched() -> Self {
        RouteTemplate(UNMATCHED_ROUTE.into())
    }

    /// The dotted form.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

fn push_segment(out: &mut String, segment: &str) {
    let param = segment
        .strip_prefix('{')
        .and_then(|s| s.strip_suffix('}'))
        .map(|s| s.trim_start_matches('*'))
        .or_else(|| {
            let inner = segment.strip_prefix('<')?.strip_suffix('>')?;
            Some(inner.strip_suffix("..").unwrap_or(inner))
        });
    let text = param.unwrap_or(segment);
    for c in text.chars() {
        match c {
            '{' | '}' | '<' | '>' => {}
            '-' => out.push('_'),
            c => out.push(c),
        }
    }
}

impl fmt::Debug for RouteTemplate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RouteTemplate({:?})", &*self.0)
    }
}

impl fmt::Display for RouteTemplate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The aggregation level of a series, from the host's own series to the
/// whole application.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Level {
    /// Per host (`cumulative` / `aggregated_per_source`): a plain counter with
    /// the host's source.
    Source,
    /// Aggregated per shard: a delta counter, source `wavefront-provided`.
    Shard,
    /// Aggregated per service.
    Service,
    /// Aggregated per cluster.
    Cluster,
    /// Aggregated per application.
    Application,
}

impl Level {
    /// The four aggregated (delta-counter) levels.
    pub const AGGREGATED: [Level; 4] = [
        Level::Shard,
        Level::Service,
        Level::Cluster,
        Level::Application,
    ];

    /// Whether series at this level are delta counters.
    #[must_use]
    pub const fn is_delta(self) -> bool {
        !matches!(self, Level::Source)
    }

    const fn aggregated_suffix(self) -> &'static str {
        match self {
            Level::Source => "aggregated_per_source",
            Level::Shard => "aggregated_per_shard",
            Level::Service => "aggregated_per_service",
            Level::Cluster => "aggregated_per_cluster",
            Level::Application => "aggregated_per_application",
        }
    }
}

/// The request a series describes: route template, method and handler.
#[derive(Debug, Clone, Copy)]
pub struct Endpoint<'a> {
    /// The matched route template (or [`RouteTemplate::unmatched`]).
    pub route: &'a RouteTemplate,
    /// The HTTP method, as the framework spells it (`GET`).
    pub method: &'a str,
    /// The handler's name, the value of the `<p>.func` tag.
    pub func: &'a str,
}

/// A series: its name and point tags, in the order they are written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Series {
    /// The metric name, before sanitisation.
    pub name: String,
    /// The point tags.
    pub tags: Vec<(String, String)>,
}

/// Builds the series names and tags of one component.
#[derive(Debug, Clone)]
pub struct Naming {
    prefix: String,
    func_key: String,
}

impl Naming {
    /// The naming scheme for `component` (`axum`, `warp`, `rocket`, …), which
    /// prefixes every series name.
    #[must_use]
    pub fn new(component: &str) -> Self {
        Naming {
            prefix: component.to_owned(),
            func_key: format!("{component}.func"),
        }
    }

    /// The component prefix.
    #[must_use]
    pub fn component(&self) -> &str {
        &self.prefix
    }

    /// The handler tag key, `<p>.func`.
    #[must_use]
    pub fn func_key(&self) -> &str {
        &self.func_key
    }

    fn tags(
        &self,
        app: &ApplicationTags,
        level: Level,
        func: Option<&str>,
    ) -> Vec<(String, String)> {
        let mut tags = vec![("application".to_owned(), app.application().to_owned())];
        if matches!(
            level,
            Level::Source | Level::Shard | Level::Service | Level::Cluster
        ) {
            tags.push(("cluster".to_owned(), app.cluster().to_owned()));
        }
        if matches!(level, Level::Source | Level::Shard | Level::Service) {
            tags.push(("service".to_owned(), app.service().to_owned()));
        }
        if matches!(level, Level::Source | Level::Shard) {
            tags.push(("shard".to_owned(), app.shard().to_owned()));
        }
        if let Some(func) = func {
            tags.push((self.func_key.clone(), func.to_owned()));
        }
        if level.is_delta() {
            tags.push(("source".to_owned(), WAVEFRONT_PROVIDED.to_owned()));
        }
        tags
    }

    fn series(
        &self,
        app: &ApplicationTags,
        level: Level,
        func: Option<&str>,
        name: String,
    ) -> Series {
        Series {
            name,
            tags: self.tags(app, level, func),
        }
    }

    /// `<p>.request.<r>.<m>.inflight.value`: requests in flight on a route (gauge).
    #[must_use]
    pub fn request_inflight(&self, app: &ApplicationTags, endpoint: &Endpoint<'_>) -> Series {
        let Endpoint {
            route,
            method,
            func,
        } = endpoint;
        let name = format!("{}.request.{route}.{method}.inflight.value", self.prefix);
        self.series(app, Level::Source, Some(func), name)
    }

    /// `<p>.total_requests.inflight.value`: all requests in flight (gauge).
    #[must_use]
    pub fn total_inflight(&self, app: &ApplicationTags) -> Series {
        let name = format!("{}.total_requests.inflight.value", self.prefix);
        self.series(app, Level::Source, None, name)
    }

    /// The per-route response count at `level`: `….cumulative.count` (counter)
    /// for [`Level::Source`], `….aggregated_per_<level>.count` (delta) otherwise.
    #[must_use]
    pub fn response(
        &self,
        app: &ApplicationTags,
        endpoint: &Endpoint<'_>,
        status: u16,
        level: Level,
    ) -> Series {
        let Endpoint {
            route,
            method,
            func,
        } = endpoint;
        let suffix = if level.is_delta() {
            level.aggregated_suffix()
        } else {
            "cumulative"
        };
        let name = format!(
            "{}.response.{route}.{method}.{status}.{suffix}.count",
            self.prefix
        );
        self.series(app, level, Some(func), name)
    }

    /// `<p>.response.<r>.summary.<m>.<s>.latency`: response time in
    /// milliseconds (minute histogram; queried with `.m`).
    #[must_use]
    pub fn latency(&self, app: &ApplicationTags, endpoint: &Endpoint<'_>, status: u16) -> Series {
        self.summary(app, endpoint, status, "latency")
    }

    /// `<p>.response.<r>.summary.<m>.<s>.cpu_ns`: CPU time in nanoseconds
    /// (minute histogram).
    #[must_use]
    pub fn cpu_ns(&self, app: &ApplicationTags, endpoint: &Endpoint<'_>, status: u16) -> Series {
        self.summary(app, endpoint, status, "cpu_ns")
    }

    fn summary(
        &self,
        app: &ApplicationTags,
        endpoint: &Endpoint<'_>,
        status: u16,
        what: &str,
    ) -> Series {
        let Endpoint {
            route,
            method,
            func,
        } = endpoint;
        let name = format!(
            "{}.response.{route}.summary.{method}.{status}.{what}",
            self.prefix
        );
        self.series(app, Level::Source, Some(func), name)
    }

    /// `<p>.response.completed.aggregated_per_<level>.count`: every completed
    /// request (a counter at [`Level::Source`], deltas above).
    #[must_use]
    pub fn completed(&self, app: &ApplicationTags, level: Level) -> Series {
        let name = format!(
            "{}.response.completed.{}.count",
            self.prefix,
            level.aggregated_suffix()
        );
        self.series(app, level, None, name)
    }

    /// `<p>.response.errors.aggregated_per_<level>.count`: requests answered
    /// with a 4xx or 5xx status.
    #[must_use]
    pub fn errors(&self, app: &ApplicationTags, level: Level) -> Series {
        let name = format!(
            "{}.response.errors.{}.count",
            self.prefix,
            level.aggregated_suffix()
        );
        self.series(app, level, None, name)
    }
}

/// Whether a status counts as an error (4xx or 5xx).
#[must_use]
pub const fn is_error_status(status: u16) -> bool {
    matches!(status, 400..=599)
}

#[cfg(test)]
mod tests;
