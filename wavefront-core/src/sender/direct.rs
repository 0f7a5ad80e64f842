//! [`DirectSender`]: direct ingestion over HTTPS.

use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::health::Health;
use super::http::{self, MIN_REQUEST_TIMEOUT};
use super::worker::{queued_sender, Backoff, Delivery, Shared, Transport};
use super::{DataKind, LineBatch, SenderStats, DEFAULT_QUEUE_CAPACITY};
use crate::url::{parse_direct_url, redact, ConfigError, UrlSetting};

/// Most lines per request.
pub const MAX_LINES_PER_REQUEST: usize = 10_000;
/// How long a `406` (the service pushing back) pauses sending.
const PUSHBACK_PAUSE: Duration = Duration::from_secs(30);
/// Default time one request may take.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// Sends to the Wavefront service directly: `POST <url>/report?f=<format>`,
/// gzip body, `Authorization: Bearer <token>`, at most 10,000 lines a
/// request, from its own thread.
///
/// * 2xx: delivered. Every status is counted (`report.<status>` diagnostics).
/// * 3xx: redirects are **not followed** (a redirect could turn the `POST`
///   into a `GET`, or carry the token elsewhere): the batch is refused,
///   its lines are dropped and counted, a report error is counted, and one
///   warning says where the service redirects to, so that the URL can be set
///   to that final address.
/// * 5xx, 408, 429, timeouts and connection errors: retried with exponential
///   backoff and jitter; the lines wait in the queue.
/// * 401 and 403: that kind of data is refused for this token; sending it
///   stops (queued and later lines are dropped and counted) and one error is
///   logged.
/// * 406: the service is pushing back; sending pauses for 30 s.
/// * Other 4xx: the batch is dropped and counted.
///
/// The URL must be `https`; plain `http` is allowed only to this machine
/// (`127.0.0.0/8`, `::1`, `localhost`), for local test servers, so that the
/// token never crosses a network in clear text. Other URLs are a
/// [`ConfigError`] from [`DirectSenderBuilder::build`].
///
/// Each request takes at most the builder's
/// [`timeout`](DirectSenderBuilder::timeout) (10 s by default). The
/// `HTTP_PROXY`, `HTTPS_PROXY`, `ALL_PROXY` and `NO_PROXY` variables are
/// ignored unless [`use_env_proxy`](DirectSenderBuilder::use_env_proxy) asks
/// for them: the token goes to the instance and nowhere else.
///
/// The token never appears in `Debug` output, logs or errors.
///
/// ```no_run
/// use wavefront_core::sender::DirectSender;
///
/// let sender = DirectSender::builder("https://example.wavefront.com", "my-api-token").build()?;
/// # Ok::<(), wavefront_core::config::ConfigError>(())
/// ```
#[derive(Debug, Clone)]
pub struct DirectSender {
    shared: Arc<Shared>,
}

/// Builds a [`DirectSender`].
#[derive(Clone)]
#[must_use]
pub struct DirectSenderBuilder {
    url: String,
    token: String,
    queue_capacity: usize,
    timeout: Duration,
    use_env_proxy: bool,
    /// Extra CAs to trust, PEM.
    trusted_cas: Vec<Vec<u8>>,
}

impl fmt::Debug for DirectSenderBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DirectSenderBuilder")
            .field("url", &redact(&self.url))
            .field("token", &"<redacted>")
            .field("queue_capacity", &self.queue_capacity)
            .field("timeout", &self.timeout)
            .field("use_env_proxy", &self.use_env_proxy)
            .field("trusted_cas", &self.trusted_cas.len())
            .finish()
    }
}

impl DirectSender {
    /// Starts a sender to `url` (the instance, e.g.
    /// `https://example.wavefront.com`) with an API token.
    pub fn builder(url: impl Into<String>, token: impl Into<String>) -> DirectSenderBuilder {
        DirectSenderBuilder {
            url: url.into(),
            token: token.into(),
            queue_capacity: DEFAULT_QUEUE_CAPACITY,
            timeout: DEFAULT_TIMEOUT,
            use_env_proxy: false,
            trusted_cas: Vec::new(),
        }
    }
}

impl DirectSenderBuilder {
    /// Lines each kind's queue holds (default 50,000).
    pub fn queue_capacity(mut self, lines: usize) -> Self {
        self.queue_capacity = lines;
        self
    }

    /// The longest one request may take, from connecting to the end of the
    /// response (default 10 s; at least 1 ms). A request that runs out of
    /// time is retried later, like a connection error.
    ///
    /// ```no_run
    /// use std::time::Duration;
    /// use wavefront_core::sender::DirectSender;
    ///
    /// let sender = DirectSender::builder("https://example.wavefront.com", "my-api-token")
    ///     .timeout(Duration::from_secs(3))
    ///     .build()?;
    /// # Ok::<(), wavefront_core::config::ConfigError>(())
    /// ```
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout.max(MIN_REQUEST_TIMEOUT);
        self
    }

    /// Whether to go through the proxy named by the `HTTP_PROXY`,
    /// `HTTPS_PROXY` and `ALL_PROXY` environment variables (minus `NO_PROXY`)
    /// as reqwest does by default. Off by default: the requests carry the API
    /// token, and an inherited proxy variable must not send it elsewhere.
    /// Turn it on where the instance is reachable only through such a proxy.
    ///
    /// ```no_run
    /// use wavefront_core::sender::DirectSender;
    ///
    /// let sender = DirectSender::builder("https://example.wavefront.com", "my-api-token")
    ///     .use_env_proxy(true)
    ///     .build()?;
    /// # Ok::<(), wavefront_core::config::ConfigError>(())
    /// ```
    pub fn use_env_proxy(mut self, use_env_proxy: bool) -> Self {
        self.use_env_proxy = use_env_proxy;
        self
    }

    /// Trusts the CA certificate `pem` (the contents of a PEM file) besides
    /// the platform's trust store (which honours `SSL_CERT_FILE` and
    /// `SSL_CERT_DIR`) and the bundled public roots: a private CA, or a
    /// TLS-inspecting proxy's. [`build`](Self::build) refuses one that is not
    /// a PEM certificate.
    ///
    /// ```no_run
    /// use wavefront_core::sender::DirectSender;
    ///
    /// let ca = std::fs::read("/etc/ssl/private-ca.pem")?;
    /// let sender = DirectSender::builder("https://wavefront.internal", "my-api-token")
    ///     .trust_ca_pem(ca)
    ///     .build()?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn trust_ca_pem(mut self, pem: impl Into<Vec<u8>>) -> Self {
        self.trusted_cas.push(pem.into());
        self
    }

    /// Checks the URL and token and starts the sender.
    ///
    /// The URL must be `https`, or plain `http` to a loopback address (a
    /// local test server): the token is never sent in clear text over a
    /// network. Otherwise, or without a token, this is a [`ConfigError`]
    /// that names the problem and never contains the token.
    ///
    /// ```
    /// use wavefront_core::config::ConfigError;
    /// use wavefront_core::sender::DirectSender;
    ///
    /// let err = DirectSender::builder("http://example.com", "my-api-token").build().unwrap_err();
    /// assert!(matches!(err, ConfigError::TokenInClearText { .. }));
    /// ```
    pub fn build(self) -> Result<DirectSender, ConfigError> {
        let report_url = report_url(&self.url)?;
        if self.token.trim().is_empty() {
            return Err(ConfigError::MissingToken {
                setting: UrlSetting::DirectSender,
            });
        }
        let mut trusted = Vec::with_capacity(self.trusted_cas.len());
        for pem in &self.trusted_cas {
            let certificates = reqwest::Certificate::from_pem_bundle(pem).map_err(|e| {
                ConfigError::InvalidCertificate {
                    reason: e.to_string(),
                }
            })?;
            if certificates.is_empty() {
                return Err(ConfigError::InvalidCertificate {
                    reason: "no certificate in it".into(),
                });
            }
            trusted.extend(certificates);
        }
        let redirect_warned = Arc::new(AtomicBool::new(false));
        // Metrics and traces each get a delivery thread (and connection), so
        // slow trace ingestion does not hold up metrics, nor the reverse.
        let worker = |kinds: [DataKind; 2]| {
            let transport = HttpTransport {
                client: None,
                report_url: report_url.clone(),
                token: self.token.clone(),
                timeout: self.timeout,
                use_env_proxy: self.use_env_proxy,
                trusted: trusted.clone(),
                redirect_warned: Arc::clone(&redirect_warned),
                refused: [false; 4],
                pushed_back: [false; 4],
                backoff: Default::default(),
                health: Health::new(format!("direct ingestion at {report_url}")),
            };
            (transport, kinds.to_vec())
        };
        let workers = vec![
            worker([DataKind::Points, DataKind::Histograms]),
            worker([DataKind::Spans, DataKind::SpanLogs]),
        ];
        let shared = Shared::new("direct", self.queue_capacity);
        shared.spawn("wavefront-direct-sender", workers, Duration::from_secs(1));
        Ok(DirectSender { shared })
    }
}

/// `<url>/report`: repeated slashes collapsed, `/report` appended once.
fn report_url(url: &str) -> Result<String, ConfigError> {
    let parsed = parse_direct_url(url, UrlSetting::DirectSender)?;
    let mut path: String = parsed
        .path()
        .split('/')
        .filter(|s| !s.is_empty())
        .map(|s| format!("/{s}"))
        .collect();
    if !path.ends_with("/report") {
        path.push_str("/report");
    }
    let mut base = parsed;
    base.set_path(&path);
    base.set_query(None);
    base.set_fragment(None);
    Ok(base.to_string())
}

/// Where a redirect points, for the warning: resolved against the report
/// URL, without user-info, query or fragment (which may hold secrets), and
/// at most 200 characters.
fn redirect_target(report_url: &str, location: Option<&reqwest::header::HeaderValue>) -> String {
    let Some(location) = location else {
        return "without a Location header".to_owned();
    };
    let resolved = location
        .to_str()
        .ok()
        .and_then(|l| reqwest::Url::parse(report_url).ok()?.join(l).ok());
    let Some(mut target) = resolved else {
        return "to an unreadable Location".to_owned();
    };
    let _ = target.set_username("");
    let _ = target.set_password(None);
    target.set_query(None);
    target.set_fragment(None);
    let target = target.to_string();
    match target.char_indices().nth(200) {
        Some((end, _)) => format!("to {}…", &target[..end]),
        None => format!("to {target}"),
    }
}

queued_sender!(DirectSender);

struct HttpTransport {
    /// Built on the delivery thread, never inside a caller's async runtime.
    client: Option<reqwest::blocking::Client>,
    /// Never holds the token (user-info is refused).
    report_url: String,
    token: String,
    timeout: Duration,
    use_env_proxy: bool,
    /// CAs trusted besides the platform's and the bundled ones.
    trusted: Vec<reqwest::Certificate>,
    /// Set once a redirect was logged at `warn` (shared by the sender's
    /// workers: one warning per sender).
    redirect_warned: Arc<AtomicBool>,
    refused: [bool; 4],
    pushed_back: [bool; 4],
    backoff: [Backoff; 4],
    /// Says once when ingestion starts failing, and when it recovers.
    health: Health,
}

impl HttpTransport {
    /// The time one request may take: the builder's timeout, capped by the
    /// time left before `deadline` (a shutdown running out), never below
    /// 1 ms.
    fn request_timeout(&self, deadline: Option<Instant>) -> Duration {
        http::request_timeout(self.timeout, deadline)
    }

    /// The client, made on first use (on the delivery thread).
    fn client(&mut self) -> Option<&reqwest::blocking::Client> {
        if self.client.is_none() {
            self.client = http::client(
                self.timeout,
                self.use_env_proxy,
                &self.trusted,
                "direct ingestion",
            );
        }
        self.client.as_ref()
    }

    /// Delivers one batch, the request ending by `deadline` (a flush's or
    /// shutdown's) if one is given: see [`HttpTransport::request_timeout`].
    fn deliver_by(
        &mut self,
        kind: DataKind,
        batch: &LineBatch,
        stats: &SenderStats,
        deadline: Option<Instant>,
    ) -> Delivery {
        let timeout = self.request_timeout(deadline);
        let Ok(body) = http::gzip(batch.text().as_bytes()) else {
            return Delivery::Retry {
                delivered: 0,
                in_flight: 0,
            };
        };
        let url = format!("{}?f={}", self.report_url, kind.format());
        let Some(client) = self.client() else {
            return Delivery::Retry {
                delivered: 0,
                in_flight: 0,
            };
        };
        let request = client
            .post(url)
            .timeout(timeout)
            .header(reqwest::header::CONTENT_TYPE, "application/octet-stream")
            .header(reqwest::header::CONTENT_ENCODING, "gzip")
            .bearer_auth(&self.token)
            .body(body);
        let Some(response) = http::send(request, &mut self.health) else {
            return Delivery::Retry {
                delivered: 0,
                in_flight: 0,
            };
        };
        let status = response.status().as_u16();
        stats.kind(kind).add_status(status);
        match status {
            200..=299 => {
                self.health.recovered();
                Delivery::Done
            }
            300..=399 => {
                stats.kind(kind).add_report_error();
                let target = redirect_target(
                    &self.report_url,
                    response.headers().get(reqwest::header::LOCATION),
                );
                if self.redirect_warned.swap(true, Ordering::AcqRel) {
                    log::debug!(
                        "wavefront: direct ingestion answered {status} (redirect {target}); {} lines of {} dropped",
                        batch.lines(),
                        kind.name()
                    );
                } else {
                    super::health::warn(format_args!(
                        "Wavefront: direct ingestion to {} answered {status} (redirect {target}); redirects are not \
                         followed: set WAVEFRONT_URL (or the DirectSender URL) to the final address; until then \
                         the data is dropped",
                        self.report_url
                    ));
                }
                Delivery::Refused
            }
            401 | 403 => {
                self.refused[kind.index()] = true;
                super::health::warn(format_args!(
                    "Wavefront: direct ingestion answered {status} for {}: the token is invalid or not allowed to send \
                     this kind of data; no more {} will be sent until restart",
                    kind.name(),
                    kind.name()
                ));
                Delivery::Refused
            }
            406 => {
                self.pushed_back[kind.index()] = true;
                log::warn!(
                    "wavefront: direct ingestion pushed back (406); pausing {} for 30 s",
                    kind.name()
                );
                Delivery::Retry {
                    delivered: 0,
                    in_flight: 0,
                }
            }
            408 | 429 | 500..=599 => {
                self.health.failed(&format_args!("answered {status}"));
                Delivery::Retry {
                    delivered: 0,
                    in_flight: 0,
                }
            }
            _ => {
                log::warn!(
                    "wavefront: direct ingestion answered {status}; {} lines of {} dropped",
                    batch.lines(),
                    kind.name()
                );
                Delivery::Refused
            }
        }
    }
}

impl Transport for HttpTransport {
    fn max_batch(&self) -> usize {
        MAX_LINES_PER_REQUEST
    }

    fn accepts(&self, kind: DataKind) -> bool {
        !self.refused[kind.index()]
    }

    fn deliver(
        &mut self,
        kind: DataKind,
        batch: &LineBatch,
        stats: &SenderStats,
        deadline: Option<Instant>,
    ) -> Delivery {
        self.deliver_by(kind, batch, stats, deadline)
    }

    fn backoff(&mut self, kind: DataKind) -> Duration {
        let i = kind.index();
        if std::mem::take(&mut self.pushed_back[i]) {
            return PUSHBACK_PAUSE;
        }
        self.backoff[i].next()
    }

    fn recovered(&mut self, kind: DataKind) {
        self.backoff[kind.index()].reset();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn transport(timeout: Duration) -> HttpTransport {
        HttpTransport {
            client: None,
            report_url: "https://h/report".into(),
            token: "t".into(),
            timeout,
            use_env_proxy: false,
            trusted: Vec::new(),
            redirect_warned: Arc::default(),
            refused: [false; 4],
            pushed_back: [false; 4],
            backoff: Default::default(),
            health: Health::new("direct ingestion in a test"),
        }
    }

    #[test]
    fn report_urls() {
        let ok = |u: &str| report_url(u).unwrap();
        assert_eq!(
            ok("https://example.wavefront.com"),
            "https://example.wavefront.com/report"
        );
        assert_eq!(
            ok("https://example.wavefront.com/"),
            "https://example.wavefront.com/report"
        );
        assert_eq!(ok("https://h//api//report/"), "https://h/api/report");
        assert_eq!(ok("https://h:8443/prefix"), "https://h:8443/prefix/report");
        assert_eq!(ok("https://h/p?q=1#f"), "https://h/p/report");
        for loopback in [
            "http://127.0.0.1:9000",
            "http://127.8.9.10:9000",
            "http://[::1]:9000",
            "http://localhost:9000",
            "http://LOCALHOST:9000",
        ] {
            assert!(ok(loopback).ends_with(":9000/report"), "{loopback}");
        }
        for clear in [
            "http://example.com",
            "http://10.0.0.1",
            "http://localhost.example.com",
            "http://127.0.0.1.example.com",
            "http://[::ffff:10.0.0.1]",
        ] {
            assert!(
                matches!(
                    report_url(clear),
                    Err(ConfigError::TokenInClearText {
                        setting: UrlSetting::DirectSender,
                        ..
                    })
                ),
                "{clear}"
            );
        }
        for bad in [
            "https://zq9x@example.com",
            "https://user:zq9x@example.com",
            "ftp://example.com",
            "ftp://zq9x@example.com",
            "not a url",
            "zq9x",
            "zq9x@example.com",
        ] {
            let err = report_url(bad).unwrap_err();
            assert!(matches!(err, ConfigError::InvalidUrl { .. }), "{bad}");
            assert!(!format!("{err} {err:?}").contains("zq9x"), "{err}");
        }
    }

    #[test]
    fn plain_http_to_a_remote_host_is_a_typed_error() {
        let err = DirectSender::builder("http://example.com", "s3cr3t")
            .build()
            .unwrap_err();
        assert_eq!(
            err,
            ConfigError::TokenInClearText {
                setting: UrlSetting::DirectSender,
                host: "example.com".into()
            }
        );
        assert_eq!(
            err.to_string(),
            "the DirectSender URL would send the API token in clear text to example.com: use \
             https://example.com (plain http is allowed only to this machine: 127.0.0.0/8, ::1 or localhost)"
        );
        let err = DirectSender::builder("https://h", " ").build().unwrap_err();
        assert_eq!(
            err,
            ConfigError::MissingToken {
                setting: UrlSetting::DirectSender
            }
        );
    }

    #[test]
    fn the_token_stays_out_of_debug() {
        let builder = DirectSender::builder("https://h", "s3cr3t-token");
        assert!(!format!("{builder:?}").contains("s3cr3t"));
        let builder = DirectSender::builder("https://s3cr3t@h", "t");
        assert!(!format!("{builder:?}").contains("s3cr3t"));
    }

    #[test]
    fn the_builder_timeout_bounds_each_request() {
        let builder = DirectSender::builder("https://h", "t");
        assert_eq!(builder.timeout, Duration::from_secs(10));
        assert!(!builder.use_env_proxy);
        let builder = builder.timeout(Duration::ZERO).use_env_proxy(true);
        assert_eq!(builder.timeout, MIN_REQUEST_TIMEOUT);
        assert!(builder.use_env_proxy);
        assert_eq!(
            transport(Duration::from_secs(10)).request_timeout(None),
            Duration::from_secs(10)
        );
    }

    #[test]
    fn a_deadline_caps_the_request_timeout() {
        let t = transport(Duration::from_secs(10));
        // Far deadline: the builder's timeout.
        let far = Instant::now() + Duration::from_secs(60);
        assert_eq!(t.request_timeout(Some(far)), Duration::from_secs(10));
        // Near deadline: the time left.
        let near = Instant::now() + Duration::from_secs(2);
        let got = t.request_timeout(Some(near));
        assert!(
            got <= Duration::from_secs(2) && got > Duration::from_millis(1_500),
            "{got:?}"
        );
        // Deadline now or past: 1 ms, never zero.
        assert_eq!(t.request_timeout(Some(Instant::now())), MIN_REQUEST_TIMEOUT);
        let past = Instant::now().checked_sub(Duration::from_secs(5));
        if let Some(past) = past {
            assert_eq!(t.request_timeout(Some(past)), MIN_REQUEST_TIMEOUT);
        }
        // A short builder timeout stays the bound.
        let short = transport(Duration::from_millis(300));
        assert_eq!(
            short.request_timeout(Some(near)),
            Duration::from_millis(300)
        );
    }

    #[test]
    fn redirect_targets_lose_credentials_and_queries() {
        use reqwest::header::HeaderValue;
        let base = "https://h/report";
        let target = |l: &str| redirect_target(base, Some(&HeaderValue::from_str(l).unwrap()));
        assert_eq!(
            target("https://u:pw@other/x?token=abc#f"),
            "to https://other/x"
        );
        assert_eq!(target("/elsewhere/report"), "to https://h/elsewhere/report");
        assert_eq!(redirect_target(base, None), "without a Location header");
        let long = format!("https://other/{}", "a".repeat(500));
        assert!(target(&long).chars().count() <= 204);
    }
}
