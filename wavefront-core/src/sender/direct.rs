//! [`DirectSender`]: direct ingestion over HTTPS.

use std::fmt;
use std::io::Write;
use std::sync::Arc;
use std::time::Duration;

use flate2::write::GzEncoder;
use flate2::Compression;

use super::worker::{queued_sender, Backoff, Delivery, Shared, Transport};
use super::{DataKind, LineBatch, SenderStats, DEFAULT_QUEUE_CAPACITY};
use crate::config::ConfigError;

/// Most lines per request.
pub const MAX_LINES_PER_REQUEST: usize = 10_000;
/// How long a `406` (the service pushing back) pauses sending.
const PUSHBACK_PAUSE: Duration = Duration::from_secs(30);

/// Sends to the Wavefront service directly: `POST <url>/report?f=<format>`,
/// gzip body, `Authorization: Bearer <token>`, at most 10,000 lines a
/// request, from its own thread.
///
/// * 2xx: delivered. Every status is counted (`report.<status>` diagnostics).
/// * 5xx, 408, 429, timeouts and connection errors: retried with exponential
///   backoff and jitter; the lines wait in the queue.
/// * 401 and 403: that kind of data is refused for this token; sending it
///   stops (queued and later lines are dropped and counted) and one error is
///   logged.
/// * 406: the service is pushing back; sending pauses for 30 s.
/// * Other 4xx: the batch is dropped and counted.
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
}

impl fmt::Debug for DirectSenderBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DirectSenderBuilder")
            .field("url", &self.url)
            .field("token", &"<redacted>")
            .field("queue_capacity", &self.queue_capacity)
            .field("timeout", &self.timeout)
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
            timeout: Duration::from_secs(10),
        }
    }
}

impl DirectSenderBuilder {
    /// Lines each kind's queue holds (default 50,000).
    pub fn queue_capacity(mut self, lines: usize) -> Self {
        self.queue_capacity = lines;
        self
    }

    /// Timeout of one request (default 10 s).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Checks the URL and token and starts the sender.
    ///
    /// The URL must be `https`, or plain `http` to a loopback address (a
    /// local test server): the token is never sent in clear text over a
    /// network.
    pub fn build(self) -> Result<DirectSender, ConfigError> {
        let report_url = report_url(&self.url)?;
        if self.token.trim().is_empty() {
            return Err(ConfigError::MissingToken);
        }
        // Metrics and traces each get a delivery thread (and connection), so
        // slow trace ingestion does not hold up metrics, nor the reverse.
        let worker = |kinds: [DataKind; 2]| {
            let transport = HttpTransport {
                client: None,
                report_url: report_url.clone(),
                token: self.token.clone(),
                timeout: self.timeout,
                refused: [false; 4],
                pushed_back: [false; 4],
                backoff: Default::default(),
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
    let bad = |reason: &str| ConfigError::InvalidUrl {
        url: url.to_owned(),
        reason: reason.to_owned(),
    };
    let parsed = reqwest::Url::parse(url).map_err(|e| bad(&e.to_string()))?;
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(bad("put the token in the builder, not in the URL"));
    }
    let Some(host) = parsed.host_str() else {
        return Err(bad("no host"));
    };
    let loopback = host == "localhost"
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
                url: url.to_owned(),
            })
        }
        other => return Err(bad(&format!("scheme {other} is not https"))),
    }
    let mut path: String = parsed
        .path()
        .split('/')
        .filter(|s| !s.is_empty())
        .map(|s| format!("/{s}"))
        .collect();
    if !path.ends_with("/report") {
        path.push_str("/report");
    }
    let mut base = parsed.clone();
    base.set_path(&path);
    base.set_query(None);
    Ok(base.to_string())
}

queued_sender!(DirectSender);

struct HttpTransport {
    /// Built on the delivery thread, never inside a caller's async runtime.
    client: Option<reqwest::blocking::Client>,
    report_url: String,
    token: String,
    timeout: Duration,
    refused: [bool; 4],
    pushed_back: [bool; 4],
    backoff: [Backoff; 4],
}

fn gzip(text: &str) -> std::io::Result<Vec<u8>> {
    let mut encoder = GzEncoder::new(Vec::with_capacity(text.len() / 4), Compression::default());
    encoder.write_all(text.as_bytes())?;
    encoder.finish()
}

impl Transport for HttpTransport {
    fn max_batch(&self) -> usize {
        MAX_LINES_PER_REQUEST
    }

    fn accepts(&self, kind: DataKind) -> bool {
        !self.refused[kind.index()]
    }

    fn deliver(&mut self, kind: DataKind, batch: &LineBatch, stats: &SenderStats) -> Delivery {
        let client = match &self.client {
            Some(client) => client,
            None => match reqwest::blocking::Client::builder()
                .timeout(self.timeout)
                .build()
            {
                Ok(client) => self.client.insert(client),
                Err(e) => {
                    log::error!(
                        "wavefront: cannot create the HTTP client for direct ingestion: {e}"
                    );
                    return Delivery::Retry { delivered: 0 };
                }
            },
        };
        let Ok(body) = gzip(batch.text()) else {
            return Delivery::Retry { delivered: 0 };
        };
        let response = client
            .post(format!("{}?f={}", self.report_url, kind.format()))
            .header(reqwest::header::CONTENT_TYPE, "application/octet-stream")
            .header(reqwest::header::CONTENT_ENCODING, "gzip")
            .bearer_auth(&self.token)
            .body(body)
            .send();
        let status = match response {
            Ok(response) => response.status().as_u16(),
            Err(e) => {
                // reqwest errors carry the URL, never the token.
                log::debug!("wavefront: direct ingestion of {} failed: {e}", kind.name());
                return Delivery::Retry { delivered: 0 };
            }
        };
        stats.kind(kind).add_status(status);
        match status {
            200..=299 => Delivery::Done,
            401 | 403 => {
                self.refused[kind.index()] = true;
                log::error!(
                    "wavefront: direct ingestion answered {status} for {}: the token is invalid or not allowed to send \
                     this kind of data; no more {} will be sent until restart",
                    kind.name(),
                    kind.name()
                );
                Delivery::Refused
            }
            406 => {
                self.pushed_back[kind.index()] = true;
                log::warn!(
                    "wavefront: direct ingestion pushed back (406); pausing {} for 30 s",
                    kind.name()
                );
                Delivery::Retry { delivered: 0 }
            }
            408 | 429 | 500..=599 => Delivery::Retry { delivered: 0 },
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
        assert_eq!(ok("http://127.0.0.1:9000"), "http://127.0.0.1:9000/report");
        assert!(matches!(
            report_url("http://example.com"),
            Err(ConfigError::TokenInClearText { .. })
        ));
        assert!(matches!(
            report_url("https://tok@example.com"),
            Err(ConfigError::InvalidUrl { .. })
        ));
        assert!(matches!(
            report_url("ftp://example.com"),
            Err(ConfigError::InvalidUrl { .. })
        ));
        assert!(matches!(
            report_url("not a url"),
            Err(ConfigError::InvalidUrl { .. })
        ));
    }

    #[test]
    fn the_token_stays_out_of_debug() {
        let builder = DirectSender::builder("https://h", "s3cr3t-token");
        assert!(!format!("{builder:?}").contains("s3cr3t"));
    }
}
