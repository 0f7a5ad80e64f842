//! [`Health`]: a destination's failures and recoveries, told once each.

use std::fmt;

/// Says at warn, once, when a destination starts failing and when it
/// delivers again, so that a misconfiguration (a wrong URL, a refused token,
/// an untrusted certificate) is heard, without a line per retry. Repeats go
/// to debug. Without a logger, warnings go to standard error ([`warn`]).
#[derive(Debug)]
pub(crate) struct Health {
    destination: String,
    failing: bool,
}

impl Health {
    /// `destination` in plain words: `the Wavefront proxy at host:2878`.
    pub(crate) fn new(destination: impl Into<String>) -> Self {
        Health {
            destination: destination.into(),
            failing: false,
        }
    }

    /// A delivery failed because of `what`.
    pub(crate) fn failed(&mut self, what: &dyn fmt::Display) {
        if self.failing {
            log::debug!("Wavefront: {}: {what}", self.destination);
        } else {
            self.failing = true;
            warn(format_args!(
                "Wavefront: {}: {what}; data is queued and retried (this is said once, until it recovers)",
                self.destination
            ));
        }
    }

    /// A delivery succeeded.
    pub(crate) fn recovered(&mut self) {
        if self.failing {
            self.failing = false;
            warn(format_args!(
                "Wavefront: {}: delivering again",
                self.destination
            ));
        }
    }
}

/// Logs at warn; with no logger installed (the `log` crate's level is still
/// off), writes to standard error instead, so a failure the user must act on
/// is never silent.
pub(crate) fn warn(message: fmt::Arguments<'_>) {
    if log::max_level() == log::LevelFilter::Off {
        eprintln!("{message}");
    } else {
        log::warn!("{message}");
    }
}
