//! Configuration: where data goes and how it is labelled, from a builder or
//! from the environment.
//!
//! | variable | meaning | default |
//! |---|---|---|
//! | `WAVEFRONT_URL` | `proxy://host:port` or `http://host:port`: a proxy; `https://TOKEN@host`: direct ingestion | unset: print to stdout |
//! | `WAVEFRONT_APPLICATION`, `WAVEFRONT_SERVICE` | application tags | the application's own defaults |
//! | `WAVEFRONT_CLUSTER`, `WAVEFRONT_SHARD` | optional application tags | `none` |
//! | `WAVEFRONT_SOURCE` | the source of every point | the host name |
//! | `WAVEFRONT_CUSTOM_TAGS` | `k=v,k=v` | none |
//! | `WAVEFRONT_REPORT_INTERVAL_SECS` | seconds between reports (≥ 1) | 60 |
//! | `WAVEFRONT_TRACES_PORT` | the proxy's tracing port | 30000 |
//! | `WAVEFRONT_HISTOGRAMS_PORT` | a separate proxy histogram port | the metrics port |
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

use crate::sender::{
    ConsoleSender, ProxySender, Sender, DEFAULT_METRICS_PORT, DEFAULT_TRACING_PORT,
};
use crate::tags::{ApplicationTags, ApplicationTagsError};

/// Default time between reports.
pub const DEFAULT_REPORT_INTERVAL: Duration = Duration::from_secs(60);

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
        }
    }
}

/// A configuration problem; it names the setting and what is wrong, and
/// never contains a token.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConfigError {
    /// An environment variable has a value that cannot be used.
    InvalidVar {
        /// The variable.
        name: &'static str,
        /// Its value (a token in it is redacted).
        value: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The URL cannot be used.
    InvalidUrl {
        /// The URL (a token in it is redacted).
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A token was given for a plain-text (`http://`, `proxy://`) URL to a
    /// host other than this machine.
    TokenInClearText {
        /// The URL (token redacted).
        url: String,
    },
    /// Direct ingestion needs an API token (`https://TOKEN@host`).
    MissingToken,
    /// The application tags are not valid.
    Tags(ApplicationTagsError),
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigError::InvalidVar { name, value, reason } => write!(f, "{name}={value:?}: {reason}"),
            ConfigError::InvalidUrl { url, reason } => write!(f, "Wavefront URL {url:?}: {reason}"),
            ConfigError::TokenInClearText { url } => write!(
                f,
                "Wavefront URL {url:?} would send a token in clear text; use https://TOKEN@host for direct ingestion"
            ),
            ConfigError::MissingToken => f.write_str("direct ingestion needs an API token: https://TOKEN@host"),
            ConfigError::Tags(e) => write!(f, "application tags: {e}"),
        }
    }
}

impl std::error::Error for ConfigError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ConfigError::Tags(e) => Some(e),
            _ => None,
        }
    }
}

impl From<ApplicationTagsError> for ConfigError {
    fn from(e: ApplicationTagsError) -> Self {
        ConfigError::Tags(e)
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

/// The URL with any user-info replaced, for messages.
fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            format!("{}<redacted>{}", &url[..scheme_end + 3], &url[at..])
        }
        _ => url.to_owned(),
    }
}

/// Parses `WAVEFRONT_URL`.
fn parse_url(raw: &str) -> Result<Destination, ConfigError> {
    let bad = |reason: &str| ConfigError::InvalidUrl {
        url: redact(raw),
        reason: reason.to_owned(),
    };
    let Some((scheme, rest)) = raw.trim().split_once("://") else {
        return Err(bad(
            "expected proxy://host:port, http://host:port or https://TOKEN@host",
        ));
    };
    let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let (token, host_port) = match authority.rsplit_once('@') {
        Some((user, host)) => (Some(user), host),
        None => (None, authority),
    };
    let (host, port) = split_host_port(host_port)
        .ok_or_else(|| bad("the port is not a number from 1 to 65535"))?;
    if host.is_empty() {
        return Err(bad("no host"));
    }
    match scheme {
        "proxy" | "http" => {
            if token.is_some() {
                return Err(ConfigError::TokenInClearText { url: redact(raw) });
            }
            Ok(Destination::Proxy {
                host: host.to_owned(),
                metrics_port: port.unwrap_or(DEFAULT_METRICS_PORT),
                tracing_port: DEFAULT_TRACING_PORT,
                histograms_port: None,
            })
        }
        "https" => match token {
            Some(token) if !token.trim().is_empty() => Ok(Destination::Direct {
                url: format!("https://{host_port}{path}"),
                token: token.to_owned(),
            }),
            _ => Err(ConfigError::MissingToken),
        },
        other => Err(bad(&format!("unknown scheme {other:?}"))),
    }
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

/// This machine's host name, or `unknown`.
#[must_use]
pub fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .or_else(|| std::env::var("COMPUTERNAME").ok())
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "unknown".to_owned())
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
            reason: "not a port number from 1 to 65535".into(),
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
                        reason: format!("{pair:?} is not key=value"),
                    });
                };
                config
                    .custom_tags
                    .push((k.trim().to_owned(), v.trim().to_owned()));
            }
        }
        if let Some(v) = get("WAVEFRONT_REPORT_INTERVAL_SECS") {
            let secs = v.parse::<u64>().ok().filter(|&s| s >= 1).ok_or_else(|| {
                ConfigError::InvalidVar {
                    name: "WAVEFRONT_REPORT_INTERVAL_SECS",
                    value: v.clone(),
                    reason: "not a whole number of seconds, at least 1".into(),
                }
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

    /// Time between reports (at least 1 s).
    #[must_use]
    pub fn report_interval(mut self, interval: Duration) -> Self {
        self.report_interval = interval.max(Duration::from_secs(1));
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

    /// Starts the sender for the destination.
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
            #[cfg(not(feature = "direct"))]
            Destination::Direct { .. } => {
                return Err(ConfigError::InvalidUrl {
                    url: "https://<redacted>@…".into(),
                    reason: "direct ingestion needs the `direct` feature of wavefront-core".into(),
                })
            }
        })
    }
}

#[cfg(test)]
mod tests;
