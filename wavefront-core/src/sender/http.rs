//! What the HTTP senders share: one client set-up, gzip, request timeouts
//! and error messages.

use std::io::Write;
use std::time::{Duration, Instant};

use flate2::write::GzEncoder;
use flate2::Compression;

use super::worker::time_left;

/// Shortest time a request is given, even past a deadline.
pub(crate) const MIN_REQUEST_TIMEOUT: Duration = Duration::from_millis(1);

/// A blocking client that follows no redirect (a redirect could turn the
/// `POST` into a `GET`, or carry a credential elsewhere) and ignores the
/// `*_PROXY` variables unless asked: credentials go to the configured
/// endpoint and nowhere else. `None` (logged) if TLS cannot be set up.
pub(crate) fn client(
    timeout: Duration,
    use_env_proxy: bool,
    trusted: &[reqwest::Certificate],
    what: &str,
) -> Option<reqwest::blocking::Client> {
    let mut builder = reqwest::blocking::Client::builder()
        .timeout(timeout)
        .redirect(reqwest::redirect::Policy::none());
    if !use_env_proxy {
        builder = builder.no_proxy();
    }
    for ca in trusted {
        builder = builder.add_root_certificate(ca.clone());
    }
    match builder.build() {
        Ok(client) => Some(client),
        Err(e) => {
            log::error!("wavefront: cannot create the HTTP client for {what}: {e}");
            None
        }
    }
}

/// The time one request may take: `timeout`, capped by the time left before
/// `deadline` (a shutdown running out), never below 1 ms.
pub(crate) fn request_timeout(timeout: Duration, deadline: Option<Instant>) -> Duration {
    time_left(timeout, deadline).map_or(MIN_REQUEST_TIMEOUT, |t| t.max(MIN_REQUEST_TIMEOUT))
}

/// Sends `request`; on failure (refused, TLS, timeout) tells `health` why
/// and returns `None`.
pub(crate) fn send(
    request: reqwest::blocking::RequestBuilder,
    health: &mut super::health::Health,
) -> Option<reqwest::blocking::Response> {
    let response = request.send();
    // reqwest's blocking client parks this thread while it waits, which
    // swallows a wake-up the worker got meanwhile (new data, a flush, or
    // shutdown after its deadline): give it back, so the worker looks at its
    // state again instead of sleeping out a backoff.
    std::thread::current().unpark();
    // reqwest errors carry the URL, never the headers (tokens, API keys);
    // the source chain says why (refused, TLS certificate, timeout).
    response
        .map_err(|e| health.failed(&format_args!("{}", ErrorChain(&e))))
        .ok()
}

pub(crate) fn gzip(bytes: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut encoder = GzEncoder::new(Vec::with_capacity(bytes.len() / 4), Compression::default());
    encoder.write_all(bytes)?;
    encoder.finish()
}

/// An error and its sources, one sentence (`error sending request: … :
/// invalid peer certificate: UnknownIssuer`).
pub(crate) struct ErrorChain<'a>(pub(crate) &'a dyn std::error::Error);

impl std::fmt::Display for ErrorChain<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)?;
        let mut source = self.0.source();
        while let Some(e) = source {
            write!(f, ": {e}")?;
            source = e.source();
        }
        Ok(())
    }
}
