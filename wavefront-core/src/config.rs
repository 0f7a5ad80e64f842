//! Configuration: where data goes and how it is labelled, from a builder or
//! from the environment.
//!
//! | variable | meaning | default |
//! |---|---|---|
//! | `WAVEFRONT_URL` | `proxy://host:port` or `http://host:port`: a proxy; `https://TOKEN@host`: direct ingestion; `otlp://host:port` (`otlps://` for TLS): OTLP/HTTP | unset: OTLP if an `OTEL_EXPORTER_OTLP_*ENDPOINT` is set, else print to stdout |
//! | `OTEL_EXPORTER_OTLP_ENDPOINT` | OTLP/HTTP base URL (`/v1/metrics`, `/v1/traces` appended), when `WAVEFRONT_URL` is unset | `http://localhost:4318` |
//! | `OTEL_EXPORTER_OTLP_METRICS_ENDPOINT`, `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` | per-signal OTLP URLs, used as given | from the base URL |
//! | `OTEL_EXPORTER_OTLP_HEADERS` | `key=value,key=value` (values percent-decoded) sent with every OTLP request; never printed | none |
//! | `WAVEFRONT_APPLICATION`, `WAVEFRONT_SERVICE` | application tags | the application's own defaults |
//! | `WAVEFRONT_CLUSTER`, `WAVEFRONT_SHARD` | optional application tags | `none` |
//! | `WAVEFRONT_SOURCE` | the source of every point | the host name |
//! | `WAVEFRONT_CUSTOM_TAGS` | `k=v,k=v` | none |
//! | `WAVEFRONT_REPORT_INTERVAL_SECS` | seconds between reports, 1 to 86,400 (one day, [`MAX_REPORT_INTERVAL`]) | 60 |
//! | `WAVEFRONT_TRACES_PORT` | the proxy's tracing port | 30000 |
//! | `WAVEFRONT_HISTOGRAMS_PORT` | a separate proxy histogram port | the metrics port |
//!
//! Rules:
//!
//! * The API token travels only over TLS: `https://TOKEN@host`. A token in
//!   a `proxy://` or `http://` URL is refused
//!   ([`ConfigError::TokenInClearText`]), as is user-info with a `:` (only
//!   the token goes before the `@`). `DirectSender::builder` follows the same
//!   rule, except that plain `http` to this machine (`127.0.0.0/8`, `::1`,
//!   `localhost`) is allowed for local test servers.
//! * `WAVEFRONT_REPORT_INTERVAL_SECS` is a whole number of seconds from 1 to
//!   86,400 ([`MAX_REPORT_INTERVAL`], one day); anything else (`0`, `-1`,
//!   `1e30`, `18446744073709551615`) is a [`ConfigError::InvalidVar`].
//! * Every [`ConfigError`] is one sentence naming the variable and what to
//!   do, in `Display` and `Debug` alike, and never contains the token, even
//!   from a malformed URL such as `TOKEN@host` or `https:/TOKEN@host`.
//!
//! ```
//! use wavefront_core::config::{Config, Destination};
//!
//! let vars = [("WAVEFRONT_URL", "proxy://wavefront-proxy:2878"), ("WAVEFRONT_CUSTOM_TAGS", "env=prod,team=shop")];
//! let config = Config::from_vars(|name| vars.iter().find(|(k, _)| *k == name).map(|(_, v)| v.to_string()))?;
//! assert!(matches!(config.destination(), Destination::Proxy { metrics_port: 2878, .. }));
//! assert_eq!(config.custom_tags().len(), 2);
//! # Ok::<(), wavefront_core::config::ConfigError>(())
//! ```

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use crate::export::{Exporter, WavefrontExporter};
use crate::sender::{
    ConsoleSender, ProxySender, Sender, DEFAULT_METRICS_PORT, DEFAULT_TRACING_PORT,
};
pub use crate::tags::hostname;
use crate::tags::ApplicationTags;
#[cfg(feature = "direct")]
use crate::url::parse_direct_url;
use crate::url::redact;
pub use crate::url::{ConfigError, UrlSetting};

/// Default time between reports.
pub const DEFAULT_REPORT_INTERVAL: Duration = Duration::from_secs(60);
/// Longest time between reports: one day. `WAVEFRONT_REPORT_INTERVAL_SECS`
/// above it is an error; [`Config::report_interval`] caps at it.
pub const MAX_REPORT_INTERVAL: Duration = Duration::from_secs(86_400);

/// Where the data goes.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Destination {
    /// Print every line to standard output.
    Console,
    /// A Wavefront proxy.
    Proxy {
        /// Host name or address.
        host: String,
        /// Metrics port.
        metrics_port: u16,
        /// Tracing port.
        tracing_port: u16,
        /// A separate histogram port, if any.
        histograms_port: Option<u16>,
    },
    /// Direct ingestion.
    Direct {
        /// The instance URL, without the token.
        url: String,
        /// The API token (never printed).
        token: String,
    },
    /// An OTLP/HTTP receiver (an OpenTelemetry Collector, a Wavefront
    /// proxy's OTLP port, any backend).
    Otlp {
        /// The base URL (`/v1/metrics` and `/v1/traces` are appended).
        endpoint: String,
        /// The metrics URL, used as given, if set.
        metrics_endpoint: Option<String>,
        /// The traces URL, used as given, if set.
        traces_endpoint: Option<String>,
        /// Headers sent with every request (values never printed).
        headers: Vec<(String, String)>,
    },
}

impl fmt::Debug for Destination {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Destination::Console => f.write_str("Console"),
            Destination::Proxy {
                host,
                metrics_port,
                tracing_port,
                histograms_port,
            } => f
                .debug_struct("Proxy")
                .field("host", host)
                .field("metrics_port", metrics_port)
                .field("tracing_port", tracing_port)
                .field("histograms_port", histograms_port)
                .finish(),
            Destination::Direct { url, .. } => f
                .debug_struct("Direct")
                .field("url", url)
                .field("token", &"<redacted>")
                .finish(),
            Destination::Otlp {
                endpoint,
                metrics_endpoint,
                traces_endpoint,
                headers,
            } => {
                let names: Vec<String> = headers
                    .iter()
                    .map(|(k, _)| format!("{k}=<redacted>"))
                    .collect();
                f.debug_struct("Otlp")
                    .field("endpoint", endpoint)
                    .field("metrics_endpoint", metrics_endpoint)
                    .field("traces_endpoint", traces_endpoint)
                    .field("headers", &names)
                    .finish()
            }
        }
    }
}

/// What the SDK needs to know: destination, labels and timing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    destination: Destination,
    application: Option<String>,
    service: Option<String>,
    cluster: Option<String>,
    shard: Option<String>,
    custom_tags: Vec<(String, String)>,
    source: String,
    report_interval: Duration,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            destination: Destination::Console,
            application: None,
            service: None,
            cluster: None,
            shard: None,
            custom_tags: Vec::new(),
            source: hostname(),
            report_interval: DEFAULT_REPORT_INTERVAL,
        }
    }
}

/// Parses `WAVEFRONT_URL`.
fn parse_url(raw: &str) -> Result<Destination, ConfigError> {
    let setting = UrlSetting::WavefrontUrl;
    let bad = |reason: &str| ConfigError::InvalidUrl {
        setting,
        url: redact(raw),
        reason: reason.to_owned(),
    };
    // The scheme is never echoed: in a malformed URL it may be the token.
    let Some((scheme, rest)) = raw
        .split_once("://")
        .map(|(scheme, rest)| (scheme.to_ascii_lowercase(), rest))
        .filter(|(scheme, _)| {
            ["proxy", "http", "https", "otlp", "otlps"].contains(&scheme.as_str())
        })
    else {
        return Err(bad(
            "the scheme is not proxy://, http://, https:// or otlp://",
        ));
    };
    let (authority, path) = rest.split_at(rest.find(['/', '?', '#']).unwrap_or(rest.len()));
    let (token, host_port) = match authority.rsplit_once('@') {
        Some((user, host)) => (Some(user), host),
        None => (None, authority),
    };
    let (host, port) = split_host_port(host_port)
        .ok_or_else(|| bad("the port is not a number from 1 to 65535"))?;
    if host.is_empty() {
        return Err(bad("there is no host"));
    }
    match scheme.as_str() {
        "otlp" | "otlps" => {
            if token.is_some() {
                return Err(bad(
                    "an OTLP URL carries no credentials: put API keys in OTEL_EXPORTER_OTLP_HEADERS",
                ));
            }
            let scheme = if scheme == "otlps" { "https" } else { "http" };
            let port = port.unwrap_or(DEFAULT_OTLP_PORT);
            let host = if host.contains(':') {
                format!("[{host}]")
            } else {
                host.to_owned()
            };
            Ok(Destination::Otlp {
                endpoint: format!("{scheme}://{host}:{port}{path}"),
                metrics_endpoint: None,
                traces_endpoint: None,
                headers: Vec::new(),
            })
        }
        "https" => match token {
            Some(token) if token.contains([':', '@']) => Err(bad(
                "only the API token goes before the @, without a user name or password",
            )),
            Some(token) if !token.trim().is_empty() => {
                let url = format!("https://{host_port}{path}");
                #[cfg(feature = "direct")]
                parse_direct_url(&url, setting)?;
                Ok(Destination::Direct {
                    url,
                    token: token.to_owned(),
                })
            }
            _ => Err(ConfigError::MissingToken { setting }),
        },
        _ => {
            if token.is_some() {
                return Err(ConfigError::TokenInClearText {
                    setting,
                    host: host.to_owned(),
                });
            }
            Ok(Destination::Proxy {
                host: host.to_owned(),
                metrics_port: port.unwrap_or(DEFAULT_METRICS_PORT),
                tracing_port: DEFAULT_TRACING_PORT,
                histograms_port: None,
            })
        }
    }
}

/// The OTLP port.
const DEFAULT_OTLP_PORT: u16 = 4318;

/// `OTEL_EXPORTER_OTLP_HEADERS`: `key=value` pairs separated by commas,
/// values percent-decoded (the W3C baggage form the specification uses).
/// Errors never quote a value: it may be an API key.
fn otlp_headers(raw: &str) -> Result<Vec<(String, String)>, ConfigError> {
    let mut headers = Vec::new();
    for pair in raw.split(',').filter(|p| !p.trim().is_empty()) {
        let parsed = pair.split_once('=').and_then(|(k, v)| {
            let (k, v) = (k.trim(), percent_decode(v.trim())?);
            (!k.is_empty() && !v.is_empty()).then(|| (k.to_owned(), v))
        });
        let Some(header) = parsed else {
            let key = pair.split('=').next().unwrap_or_default().trim();
            return Err(ConfigError::InvalidVar {
                name: "OTEL_EXPORTER_OTLP_HEADERS",
                value: format!("{key}=<redacted>"),
                reason:
                    "set it to key=value pairs separated by commas, e.g. api-key=SECRET,team=shop \
                         (values percent-encoded)"
                        .into(),
            });
        };
        headers.push(header);
    }
    Ok(headers)
}

/// `%XX` escapes decoded; `None` for a bad escape or invalid UTF-8.
fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// `host[:port]`, with `[v6]` hosts; `None` for a bad port.
fn split_host_port(s: &str) -> Option<(&str, Option<u16>)> {
    let (host, port) = if let Some(v6) = s.strip_prefix('[') {
        let (host, rest) = v6.split_once(']')?;
        (host, rest.strip_prefix(':'))
    } else {
        match s.rsplit_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (s, None),
        }
    };
    match port {
        None => Some((host, None)),
        Some(p) => p
            .parse::<u16>()
            .ok()
            .filter(|&p| p > 0)
            .map(|p| (host, Some(p))),
    }
}

fn port_var(name: &'static str, value: &str) -> Result<u16, ConfigError> {
    value
        .trim()
        .parse::<u16>()
        .ok()
        .filter(|&p| p > 0)
        .ok_or_else(|| ConfigError::InvalidVar {
            name,
            value: value.to_owned(),
            reason: "set it to a port number from 1 to 65535".into(),
        })
}

impl Config {
    /// Prints to standard output, labels from the defaults given later.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Reads the `WAVEFRONT_*` variables (see the [module docs](self)).
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_vars(|name| std::env::var(name).ok())
    }

    /// As [`Config::from_env`], reading variables through `var`.
    pub fn from_vars(var: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let get = |name: &str| {
            var(name)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        let mut config = Config::default();
        if let Some(url) = get("WAVEFRONT_URL") {
            config.destination = parse_url(&url)?;
        } else {
            let metrics = get("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT");
            let traces = get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT");
            let base = get("OTEL_EXPORTER_OTLP_ENDPOINT");
            if base.is_some() || metrics.is_some() || traces.is_some() {
                config.destination = Destination::Otlp {
                    endpoint: base
                        .unwrap_or_else(|| format!("http://localhost:{DEFAULT_OTLP_PORT}")),
                    metrics_endpoint: metrics,
                    traces_endpoint: traces,
                    headers: Vec::new(),
                };
            }
        }
        if let Destination::Otlp { headers, .. } = &mut config.destination {
            if let Some(v) = get("OTEL_EXPORTER_OTLP_HEADERS") {
                *headers = otlp_headers(&v)?;
            }
        }
        if let Destination::Proxy {
            tracing_port,
            histograms_port,
            ..
        } = &mut config.destination
        {
            if let Some(v) = get("WAVEFRONT_TRACES_PORT") {
                *tracing_port = port_var("WAVEFRONT_TRACES_PORT", &v)?;
            }
            if let Some(v) = get("WAVEFRONT_HISTOGRAMS_PORT") {
                *histograms_port = Some(port_var("WAVEFRONT_HISTOGRAMS_PORT", &v)?);
            }
        }
        config.application = get("WAVEFRONT_APPLICATION");
        config.service = get("WAVEFRONT_SERVICE");
        config.cluster = get("WAVEFRONT_CLUSTER");
        config.shard = get("WAVEFRONT_SHARD");
        if let Some(source) = get("WAVEFRONT_SOURCE") {
            config.source = source;
        }
        if let Some(tags) = get("WAVEFRONT_CUSTOM_TAGS") {
            for pair in tags.split(',').filter(|p| !p.trim().is_empty()) {
                let Some((k, v)) = pair
                    .split_once('=')
                    .filter(|(k, v)| !k.trim().is_empty() && !v.trim().is_empty())
                else {
                    return Err(ConfigError::InvalidVar {
                        name: "WAVEFRONT_CUSTOM_TAGS",
                        value: tags.clone(),
                        reason: format!(
                            "{pair:?} is not key=value; set it to key=value pairs separated by commas, \
                             e.g. env=prod,team=shop"
                        ),
                    });
                };
                config
                    .custom_tags
                    .push((k.trim().to_owned(), v.trim().to_owned()));
            }
        }
        if let Some(v) = get("WAVEFRONT_REPORT_INTERVAL_SECS") {
            let max = MAX_REPORT_INTERVAL.as_secs();
            let secs = v
                .parse::<u64>()
                .ok()
                .filter(|s| (1..=max).contains(s))
                .ok_or_else(|| ConfigError::InvalidVar {
                    name: "WAVEFRONT_REPORT_INTERVAL_SECS",
                    value: v.clone(),
                    reason: format!(
                        "set it to a whole number of seconds from 1 to {max} (one day)"
                    ),
                })?;
            config.report_interval = Duration::from_secs(secs);
        }
        Ok(config)
    }

    /// Sends to `destination`.
    #[must_use]
    pub fn destination_to(mut self, destination: Destination) -> Self {
        self.destination = destination;
        self
    }

    /// The source of every point (default: the host name).
    #[must_use]
    pub fn source(mut self, source: impl Into<String>) -> Self {
        self.source = source.into();
        self
    }

    /// Time between reports, from 1 s to [`MAX_REPORT_INTERVAL`] (one day):
    /// shorter or longer values are raised or capped to fit.
    ///
    /// ```
    /// use std::time::Duration;
    /// use wavefront_core::config::{Config, MAX_REPORT_INTERVAL};
    ///
    /// assert_eq!(Config::new().report_interval(Duration::MAX).interval(), MAX_REPORT_INTERVAL);
    /// assert_eq!(Config::new().report_interval(Duration::ZERO).interval(), Duration::from_secs(1));
    /// ```
    #[must_use]
    pub fn report_interval(mut self, interval: Duration) -> Self {
        self.report_interval = interval.clamp(Duration::from_secs(1), MAX_REPORT_INTERVAL);
        self
    }

    /// Where the data goes.
    #[must_use]
    pub fn destination(&self) -> &Destination {
        &self.destination
    }

    /// The custom tags read from the environment.
    #[must_use]
    pub fn custom_tags(&self) -> &[(String, String)] {
        &self.custom_tags
    }

    /// The source of every point.
    #[must_use]
    pub fn source_name(&self) -> &str {
        &self.source
    }

    /// Time between reports.
    #[must_use]
    pub fn interval(&self) -> Duration {
        self.report_interval
    }

    /// The application tags: the configured values, or the defaults given
    /// here for anything not configured. Custom tags from the configuration
    /// are added to (and override) `defaults`' custom tags.
    pub fn application_tags(
        &self,
        defaults: &ApplicationTags,
    ) -> Result<ApplicationTags, ConfigError> {
        let or = |value: &Option<String>, default: &str| {
            value.clone().unwrap_or_else(|| default.to_owned())
        };
        let mut builder = ApplicationTags::builder(
            or(&self.application, defaults.application()),
            or(&self.service, defaults.service()),
        )
        .cluster(&or(&self.cluster, defaults.cluster()))
        .shard(&or(&self.shard, defaults.shard()));
        for (k, v) in defaults.custom_tags().iter().chain(&self.custom_tags) {
            builder = builder.custom_tag(k.clone(), v.clone());
        }
        Ok(builder.build()?)
    }

    /// Starts the exporter for the destination: OTLP, or Wavefront lines
    /// through [`Config::sender`].
    pub fn exporter(&self) -> Result<Arc<dyn Exporter>, ConfigError> {
        match &self.destination {
            #[cfg(feature = "otlp")]
            Destination::Otlp {
                endpoint,
                metrics_endpoint,
                traces_endpoint,
                headers,
            } => {
                let mut builder = crate::export::OtlpExporter::builder(endpoint.clone());
                if let Some(url) = metrics_endpoint {
                    builder = builder.metrics_endpoint(url.clone());
                }
                if let Some(url) = traces_endpoint {
                    builder = builder.traces_endpoint(url.clone());
                }
                for (name, value) in headers {
                    builder = builder.header(name.clone(), value.clone());
                }
                Ok(Arc::new(builder.build()?))
            }
            _ => Ok(Arc::new(WavefrontExporter::new(self.sender()?))),
        }
    }

    /// Starts the sender of Wavefront lines for the destination.
    pub fn sender(&self) -> Result<Arc<dyn Sender>, ConfigError> {
        Ok(match &self.destination {
            Destination::Console => Arc::new(ConsoleSender::stdout()),
            Destination::Proxy {
                host,
                metrics_port,
                tracing_port,
                histograms_port,
            } => {
                let mut builder = ProxySender::builder(host.clone())
                    .metrics_port(*metrics_port)
                    .tracing_port(*tracing_port);
                if let Some(port) = histograms_port {
                    builder = builder.histograms_port(*port);
                }
                Arc::new(builder.build())
            }
            #[cfg(feature = "direct")]
            Destination::Direct { url, token } => {
                Arc::new(crate::sender::DirectSender::builder(url.clone(), token.clone()).build()?)
            }
            Destination::Otlp { endpoint, .. } => {
                return Err(ConfigError::InvalidUrl {
                    setting: UrlSetting::OtlpEndpoint,
                    url: redact(endpoint),
                    reason: if cfg!(feature = "otlp") {
                        "OTLP is not sent as Wavefront lines: use Config::exporter".into()
                    } else {
                        "OTLP export needs the `otlp` feature of wavefront-core (or of the adapter)"
                            .into()
                    },
                })
            }
            #[cfg(not(feature = "direct"))]
            Destination::Direct { .. } => {
                return Err(ConfigError::InvalidUrl {
                    setting: UrlSetting::WavefrontUrl,
                    url: "https://<redacted>@…".into(),
                    reason: "direct ingestion needs the `direct` feature of wavefront-core".into(),
                })
            }
        })
    }
}

#[cfg(test)]
mod tests;
