//! [`Instrumented`]: the future that produces a response, measured.

use std::future::Future;
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::task::{Context, Poll};

use pin_project_lite::pin_project;

use super::RequestGuard;
use crate::panics::panic_message;
use crate::trace::SpanHandle;

pin_project! {
    /// Wraps the future that produces a response. Each poll adds the polling
    /// thread's CPU time to the request; a handler that names itself is
    /// noticed; the request counts in flight on its route from its first
    /// `Pending`; and a panic is recorded as a 500 with its message before it
    /// continues unwinding, as the framework would have it.
    ///
    /// It resolves to the inner output and the guard, which the adapter keeps
    /// until the response body is done.
    #[must_use = "futures do nothing unless polled"]
    pub struct Instrumented<F> {
        #[pin]
        inner: F,
        guard: Option<RequestGuard>,
        // A handle of the request's span, made the thread's current span
        // for each poll.
        current: Option<SpanHandle>,
    }
}

impl<F> Instrumented<F> {
    pub(super) fn new(inner: F, guard: RequestGuard, current: Option<SpanHandle>) -> Self {
        Instrumented {
            inner,
            guard: Some(guard),
            current,
        }
    }
}

impl<F> std::fmt::Debug for Instrumented<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Instrumented")
            .field("guard", &self.guard)
            .finish_non_exhaustive()
    }
}

impl<F: Future> Future for Instrumented<F> {
    type Output = (F::Output, RequestGuard);

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        // Polled again after completing: stay pending rather than panic.
        let Some(guard) = this.guard.as_mut() else {
            return Poll::Pending;
        };
        let stopwatch = guard.poll_stopwatch();
        let polled = {
            // Code the handler runs (a `tracing` span, a client call) finds
            // the request's span as the current one.
            let _current = crate::trace::enter_kept(guard.span(), this.current);
            catch_unwind(AssertUnwindSafe(|| this.inner.poll(cx)))
        };
        guard.end_poll(stopwatch, matches!(polled, Ok(Poll::Ready(_))));
        match polled {
            Ok(Poll::Pending) => {
                guard.resolve(true);
                Poll::Pending
            }
            Ok(Poll::Ready(output)) => {
                guard.resolve(false);
                // The guard keeps the span's last handle, so that the span's
                // shared parts are reused when it ends, even right away.
                drop(this.current.take());
                match this.guard.take() {
                    Some(guard) => Poll::Ready((output, guard)),
                    None => Poll::Pending,
                }
            }
            Err(payload) => {
                guard.set_status(500);
                guard.set_error(panic_message(&*payload));
                drop(this.guard.take()); // record before unwinding on
                resume_unwind(payload)
            }
        }
    }
}
