//! What a Wavefront URL may be and how its token is kept out of messages,
//! and the errors configuration gives: below both [`crate::config`] and
//! [`crate::sender`], which use them.

use std::fmt;

use crate::tags::ApplicationTagsError;

/// Which setting gave a URL, so that an error about it can name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum UrlSetting {
    /// The `WAVEFRONT_URL` environment variable (read by
    /// [`Config::from_env`](crate::config::Config::from_env) and [`Config::from_vars`](crate::config::Config::from_vars)).
    WavefrontUrl,
    /// The URL and token given to `DirectSender::builder`.
    DirectSender,
    /// An OTLP endpoint: `OTEL_EXPORTER_OTLP_ENDPOINT` (or its per-signal
    /// variants), an `otlp://` `WAVEFRONT_URL`, or `OtlpExporter::builder`.
    OtlpEndpoint,
}

impl fmt::Display for UrlSetting {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            UrlSetting::WavefrontUrl => "WAVEFRONT_URL",
            UrlSetting::DirectSender => "the DirectSender URL",
            UrlSetting::OtlpEndpoint => "the OTLP endpoint",
        })
    }
}

/// A configuration problem.
///
/// Its `Display` is one plain sentence that names the setting (such as
/// `WAVEFRONT_URL`) and says what to do; `Debug` prints the same sentence, so
/// that `fn main() -> Result<(), Box<dyn Error>>` shows it as it is. Neither
/// ever contains an API token, even one inside a malformed URL.
///
/// ```
/// use wavefront_core::config::{Config, ConfigError};
///
/// let err = Config::from_vars(|name| (name == "WAVEFRONT_URL").then(|| "http://s3cr3t@example.com".to_owned()))
///     .unwrap_err();
/// assert!(matches!(err, ConfigError::TokenInClearText { .. }));
/// assert_eq!(
///     err.to_string(),
///     "WAVEFRONT_URL would send the API token in clear text to example.com: \
///      use https://TOKEN@example.com for direct ingestion, or a proxy://host:port URL without a token"
/// );
/// assert_eq!(format!("{err:?}"), err.to_string());
/// ```
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConfigError {
    /// An environment variable has a value that cannot be used.
    InvalidVar {
        /// The variable.
        name: &'static str,
        /// Its value.
        value: String,
        /// What to do about it, e.g. `set it to a port number from 1 to 65535`.
        reason: String,
    },
    /// The URL cannot be used.
    InvalidUrl {
        /// Where the URL was given.
        setting: UrlSetting,
        /// The URL, with anything that may be a token replaced by
        /// `<redacted>`.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A token would go over plain text (`http://`, `proxy://`) to a host
    /// other than this machine.
    TokenInClearText {
        /// Where the URL was given.
        setting: UrlSetting,
        /// The host the token would go to.
        host: String,
    },
    /// Direct ingestion needs an API token (`https://TOKEN@host`).
    MissingToken {
        /// Where the URL was given.
        setting: UrlSetting,
    },
    /// The application tags are not valid.
    Tags(ApplicationTagsError),
    /// A CA certificate given to trust is not a PEM certificate.
    InvalidCertificate {
        /// What is wrong with it.
        reason: String,
    },
}

/// `host` as it goes in a URL (`[v6]`).
fn url_host(host: &str) -> String {
    if host.contains(':') && !host.starts_with('[') {
        format!("[{host}]")
    } else {
        host.to_owned()
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigError::InvalidVar {
                name,
                value,
                reason,
            } => write!(f, "{name}={:?} cannot be used: {reason}", shorten(value)),
            ConfigError::InvalidUrl {
                setting: UrlSetting::WavefrontUrl,
                url,
                reason,
            } => write!(
                f,
                "WAVEFRONT_URL={url:?} cannot be used ({reason}): set it to proxy://host:port for a \
                 Wavefront proxy, https://TOKEN@host for direct ingestion, or otlp://host:port for OTLP"
            ),
            ConfigError::InvalidUrl {
                setting: UrlSetting::DirectSender,
                url,
                reason,
            } => write!(
                f,
                "the DirectSender URL {url:?} cannot be used ({reason}): give DirectSender::builder \
                 the instance as https://host and the API token as its second argument"
            ),
            ConfigError::InvalidUrl {
                setting: UrlSetting::OtlpEndpoint,
                url,
                reason,
            } => write!(
                f,
                "the OTLP endpoint {url:?} cannot be used ({reason}): give the receiver's base URL, \
                 such as http://otel-collector:4318 (OTEL_EXPORTER_OTLP_ENDPOINT), or otlp://host:port \
                 in WAVEFRONT_URL"
            ),
            ConfigError::TokenInClearText {
                setting: UrlSetting::WavefrontUrl,
                host,
            } => write!(
                f,
                "WAVEFRONT_URL would send the API token in clear text to {host}: use https://TOKEN@{} \
                 for direct ingestion, or a proxy://host:port URL without a token",
                url_host(host)
            ),
            // OTLP endpoints carry no token in their URL (headers do).
            ConfigError::TokenInClearText {
                setting: UrlSetting::DirectSender | UrlSetting::OtlpEndpoint,
                host,
            } => write!(
                f,
                "the DirectSender URL would send the API token in clear text to {host}: use https://{} \
                 (plain http is allowed only to this machine: 127.0.0.0/8, ::1 or localhost)",
                url_host(host)
            ),
            ConfigError::MissingToken {
                setting: UrlSetting::WavefrontUrl,
            } => f.write_str(
                "WAVEFRONT_URL has no API token: set it to https://TOKEN@host for direct ingestion, \
                 or to proxy://host:port for a Wavefront proxy",
            ),
            ConfigError::MissingToken {
                setting: UrlSetting::DirectSender | UrlSetting::OtlpEndpoint,
            } => f.write_str(
                "the DirectSender API token is empty: give the token as the second argument of \
                 DirectSender::builder",
            ),
            ConfigError::InvalidCertificate { reason } => write!(
                f,
                "the CA certificate given to DirectSender::builder(..).trust_ca_pem(..) cannot be used \
                 ({reason}): give a PEM file's contents (-----BEGIN CERTIFICATE-----)"
            ),
            ConfigError::Tags(e) => match e {
                ApplicationTagsError::BlankApplication => f.write_str(
                    "the application name is blank: set WAVEFRONT_APPLICATION, or give the \
                     application tags a name",
                ),
                ApplicationTagsError::BlankService => f.write_str(
                    "the service name is blank: set WAVEFRONT_SERVICE, or give the application tags \
                     a service",
                ),
                ApplicationTagsError::BlankCustomTag { key } => write!(
                    f,
                    "custom tag {key:?} has a blank key or value: fix WAVEFRONT_CUSTOM_TAGS \
                     (key=value,key=value) or the application's custom tags"
                ),
                ApplicationTagsError::ReservedCustomTag { key } => write!(
                    f,
                    "custom tag {key:?} would replace an application tag: remove it from \
                     WAVEFRONT_CUSTOM_TAGS and set WAVEFRONT_APPLICATION, WAVEFRONT_SERVICE, \
                     WAVEFRONT_CLUSTER or WAVEFRONT_SHARD instead"
                ),
            },
        }
    }
}

/// The same sentence as `Display`: `main` returning an error prints it with
/// `Debug`.
impl fmt::Debug for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// At most 100 characters of a value, for messages.
fn shorten(value: &str) -> std::borrow::Cow<'_, str> {
    const MAX: usize = 100;
    match value.char_indices().nth(MAX) {
        Some((end, _)) => format!("{}…", &value[..end]).into(),
        None => value.into(),
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

/// The URL for messages, with everything that may be a token replaced by
/// `<redacted>`: after `proxy://`, `http://` or `https://`, all before the
/// last `@`. A value without such a scheme is malformed (`TOKEN@host`,
/// `https:/TOKEN@host`, or the token alone, put in the wrong variable):
/// only what follows its last `@`, if any, is shown.
pub(crate) fn redact(url: &str) -> String {
    let after_scheme = ["https://", "http://", "proxy://"]
        .iter()
        .find_map(|scheme| {
            url.get(..scheme.len())
                .filter(|s| s.eq_ignore_ascii_case(scheme))
                .map(|_| scheme.len())
        });
    match (after_scheme, url.rfind('@')) {
        (Some(start), Some(at)) if at >= start => {
            format!("{}<redacted>{}", &url[..start], &url[at..])
        }
        (Some(_), _) => url.to_owned(),
        (None, Some(at)) => format!("<redacted>{}", &url[at..]),
        (None, None) => "<redacted>".to_owned(),
    }
}

/// Checks a direct-ingestion URL (without token): `https`, or plain `http`
/// to this machine only (`127.0.0.0/8`, `::1`, `localhost`), a host, no
/// user-info. The one rule for `WAVEFRONT_URL` and `DirectSender::builder`.
#[cfg(feature = "direct")]
pub(crate) fn parse_direct_url(
    url: &str,
    setting: UrlSetting,
) -> Result<reqwest::Url, ConfigError> {
    let bad = |reason: String| ConfigError::InvalidUrl {
        setting,
        url: redact(url),
        reason,
    };
    // `url`'s parse errors are fixed words; they never quote the input.
    let parsed = reqwest::Url::parse(url).map_err(|e| bad(e.to_string()))?;
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(bad(
            "the token belongs in the builder's second argument, not in the URL".into(),
        ));
    }
    let Some(host) = parsed.host_str().filter(|h| !h.is_empty()) else {
        return Err(bad("there is no host".into()));
    };
    let loopback = host.eq_ignore_ascii_case("localhost")
        || host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback());
    match parsed.scheme() {
        "https" => {}
        "http" if loopback => {}
        "http" => {
            return Err(ConfigError::TokenInClearText {
                setting,
                host: host.to_owned(),
            })
        }
        _ => return Err(bad("the scheme is not https://".into())),
    }
    Ok(parsed)
}
