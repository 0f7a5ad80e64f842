//! Per-route metric handles, resolved once and cached without locks, so a
//! request costs a few atomic operations and no allocation once its route,
//! handler and status have been seen.
//!
//! route (template, method) → handler → status → handles

use std::sync::Arc;

use crate::cow_map::{hash_parts, CowMap};
use crate::histogram::{HttpRequestDuration, WavefrontHistogram};
use crate::metric::{Counter, DeltaCounter, Gauge};
use crate::naming::{Endpoint, Level, Naming, RouteTemplate, Series, UNMATCHED_ROUTE};
use crate::registry::Registry;
use crate::tags::ApplicationTags;
use crate::trace::Text;

use super::StatusTexts;

// Keys are hashed with `hash_parts`, fast and unkeyed: route templates,
// methods and handler names come from the application's code, not from
// clients.

/// The route requests on routes past the cap are recorded under.
pub(crate) const OVERFLOW_ROUTE: &str = "overflow";

/// Most distinct statuses per handler: each makes seven series, and a
/// handler (or a client able to pick its status) could otherwise make
/// hundreds. Past it, the response counts in the completed and error totals
/// and in `~sdk.rust.<component>.statuses.overflow.count`.
pub(crate) const MAX_STATUSES_PER_HANDLER: usize = 32;

/// What creating handles needs.
struct Ctx {
    registry: Registry,
    naming: Naming,
    app: ApplicationTags,
}

impl Ctx {
    fn counter(&self, s: &Series) -> Counter {
        self.registry.counter(&s.name, &s.tags)
    }
    fn delta(&self, s: &Series) -> DeltaCounter {
        self.registry.delta_counter(&s.name, &s.tags)
    }
}

/// A counter at the source level and delta counters at the four aggregated
/// levels.
struct LevelHandles {
    source: Counter,
    aggregated: [DeltaCounter; 4],
}

impl LevelHandles {
    fn new(ctx: &Ctx, series: impl Fn(Level) -> Series) -> Self {
        LevelHandles {
            source: ctx.counter(&series(Level::Source)),
            aggregated: Level::AGGREGATED.map(|level| ctx.delta(&series(level))),
        }
    }

    fn inc(&self) {
        self.source.inc();
        for delta in &self.aggregated {
            delta.inc();
        }
    }
}

pub(crate) struct Routes {
    ctx: Arc<Ctx>,
    total_inflight: Gauge,
    completed: LevelHandles,
    errors: LevelHandles,
    routes: CowMap<RouteEntry>,
    max_routes: usize,
    overflowed: Counter,
    statuses_overflowed: Counter,
}

impl Routes {
    pub(crate) fn new(
        naming: &Naming,
        app: &ApplicationTags,
        registry: Registry,
        max_routes: usize,
    ) -> Self {
        let ctx = Arc::new(Ctx {
            registry,
            naming: naming.clone(),
            app: app.clone(),
        });
        let sdk_tags = [
            ("application", app.application()),
            ("service", app.service()),
        ];
        let overflowed = ctx.registry.counter(
            &format!("~sdk.rust.{}.routes.overflow.count", naming.component()),
            &sdk_tags,
        );
        let statuses_overflowed = ctx.registry.counter(
            &format!("~sdk.rust.{}.statuses.overflow.count", naming.component()),
            &sdk_tags,
        );
        Routes {
            total_inflight: ctx.registry.up_down_gauge(
                &naming.total_inflight(app).name,
                &naming.total_inflight(app).tags,
            ),
            completed: LevelHandles::new(&ctx, |level| naming.completed(app, level)),
            errors: LevelHandles::new(&ctx, |level| naming.errors(app, level)),
            routes: CowMap::new(),
            max_routes,
            overflowed,
            statuses_overflowed,
            ctx,
        }
    }

    pub(crate) fn total_inflight(&self) -> &Gauge {
        &self.total_inflight
    }

    /// The entry keyed `key` + `method`, named after `template`; its
    /// fallback handler name is made only when the entry is.
    fn entry(
        &self,
        key: &str,
        template: &str,
        method: &'static str,
        fallback: impl FnOnce() -> String,
        limit: usize,
    ) -> Option<Arc<RouteEntry>> {
        let hash = hash_parts([key, method]);
        self.routes
            .get_or_insert(
                hash,
                |e| &*e.key == key && e.method == method,
                || RouteEntry {
                    key: key.into(),
                    method,
                    route: RouteTemplate::new(template),
                    fallback: fallback().into(),
                    funcs: CowMap::new(),
                    ctx: Arc::clone(&self.ctx),
                },
                limit,
            )
            .ok()
    }

    /// The route `template` + `method`, or the overflow route past the cap.
    pub(crate) fn route(&self, template: &str, method: &'static str) -> Arc<RouteEntry> {
        let mine = |e: &RouteEntry| {
            Arc::ptr_eq(&e.ctx, &self.ctx) && e.method == method && &*e.key == template
        };
        if let Some(entry) = recent::find(mine) {
            return entry;
        }
        let fallback = || format!("{method} {template}");
        if let Some(entry) = self.entry(template, template, method, fallback, self.max_routes) {
            recent::remember(&entry);
            return entry;
        }
        self.overflowed.inc();
        self.fixed(OVERFLOW_ROUTE, method)
    }

    /// The route of requests that matched none.
    pub(crate) fn unmatched(&self, method: &'static str) -> Arc<RouteEntry> {
        self.fixed(UNMATCHED_ROUTE, method)
    }

    /// A route outside the cap (unmatched, overflow): the method set is
    /// bounded, so these are too. A NUL prefix keeps their keys apart from
    /// any real template.
    fn fixed(&self, name: &'static str, method: &'static str) -> Arc<RouteEntry> {
        let key = match name {
            UNMATCHED_ROUTE => "\u{0}unmatched",
            _ => "\u{0}overflow",
        };
        match self.entry(key, name, method, || name.to_owned(), usize::MAX) {
            Some(entry) => entry,
            // Unreachable (no limit); a fresh, unshared entry still records correctly.
            None => Arc::new(RouteEntry {
                key: key.into(),
                method,
                route: RouteTemplate::new(name),
                fallback: name.into(),
                funcs: CowMap::new(),
                ctx: Arc::clone(&self.ctx),
            }),
        }
    }

    /// Records one response; returns the status as text, for the span.
    pub(crate) fn record(
        &self,
        func: &FuncHandles,
        status: u16,
        elapsed_ns: u64,
        cpu_ns: Option<u64>,
    ) -> Text {
        self.completed.inc();
        if crate::naming::is_error_status(status) {
            self.errors.inc();
        }
        let recorded = func.with_status(status, |handles| {
            handles.counts.inc();
            handles.latency.record(elapsed_ns);
            if let Some(cpu) = cpu_ns {
                handles.cpu.record(cpu);
            }
            handles.text.clone()
        });
        recorded.unwrap_or_else(|| {
            self.statuses_overflowed.inc();
            status_text(status)
        })
    }
}

/// A status as span tag text: the same static text for every request
/// with that status, made without allocating.
fn status_text(status: u16) -> Text {
    static CODES: StatusTexts = StatusTexts::new("");
    match CODES.get(status) {
        Some(code) => Text::from(code),
        None => Text::interned(itoa::Buffer::new().format(status)),
    }
}

/// The routes each thread resolved last: a server's threads serve a few
/// routes over and over, and finding one here costs no hash, no epoch pin
/// (a memory fence) and no search. (Four entries a thread, kept until
/// replaced, with what they hold.)
mod recent {
    use std::cell::{Cell, RefCell};
    use std::sync::Arc;

    use super::RouteEntry;

    const SLOTS: usize = 4;

    thread_local! {
        static ENTRIES: RefCell<[Option<Arc<RouteEntry>>; SLOTS]> = const { RefCell::new([None, None, None, None]) };
        static NEXT: Cell<usize> = const { Cell::new(0) };
    }

    /// The remembered entry `mine` accepts.
    pub(super) fn find(mine: impl Fn(&RouteEntry) -> bool) -> Option<Arc<RouteEntry>> {
        ENTRIES
            .try_with(|entries| {
                let entries = entries.try_borrow().ok()?;
                entries.iter().flatten().find(|e| mine(e)).cloned()
            })
            .ok()
            .flatten()
    }

    /// Remembers `entry` in place of the oldest.
    pub(super) fn remember(entry: &Arc<RouteEntry>) {
        let _ = ENTRIES.try_with(|entries| {
            if let Ok(mut entries) = entries.try_borrow_mut() {
                let at = NEXT
                    .try_with(|n| n.replace((n.get() + 1) % SLOTS))
                    .unwrap_or(0);
                entries[at] = Some(Arc::clone(entry));
            }
        });
    }
}

/// One (route template, method).
pub(crate) struct RouteEntry {
    /// The cache key: the template as the framework gave it.
    key: Box<str>,
    method: &'static str,
    route: RouteTemplate,
    /// The handler name used when the handler does not name itself.
    fallback: Box<str>,
    funcs: CowMap<FuncHandles>,
    ctx: Arc<Ctx>,
}

impl RouteEntry {
    /// The handles of handler `name` on this route.
    pub(crate) fn func(&self, name: &str) -> Arc<FuncHandles> {
        let hash = hash_parts([name]);
        let make = || {
            let endpoint = Endpoint {
                route: &self.route,
                method: self.method,
                func: name,
            };
            let inflight = self.ctx.naming.request_inflight(&self.ctx.app, &endpoint);
            FuncHandles {
                func: Text::interned(name),
                route: self.route.clone(),
                // Fixed routes (unmatched, overflow) have a NUL-prefixed key.
                template: (!self.key.starts_with('\u{0}')).then(|| Arc::from(&*self.key)),
                method: self.method,
                inflight: self
                    .ctx
                    .registry
                    .up_down_gauge(&inflight.name, &inflight.tags),
                statuses: CowMap::new(),
                ctx: Arc::clone(&self.ctx),
            }
        };
        match self
            .funcs
            .get_or_insert(hash, |f| &*f.func == name, make, usize::MAX)
        {
            Ok(func) => func,
            Err(_) => Arc::new(make()),
        }
    }

    /// The handles of the fallback handler name.
    pub(crate) fn fallback(&self) -> Arc<FuncHandles> {
        self.func(&self.fallback)
    }
}

/// One handler on one route.
pub(crate) struct FuncHandles {
    func: Text,
    route: RouteTemplate,
    /// The route template as the framework gave it.
    template: Option<Arc<str>>,
    method: &'static str,
    inflight: Gauge,
    statuses: CowMap<StatusHandles>,
    ctx: Arc<Ctx>,
}

/// The series of one status of one handler on one route.
struct StatusHandles {
    status: u16,
    /// The status as span tag text, made once.
    text: Text,
    counts: LevelHandles,
    latency: WavefrontHistogram,
    cpu: WavefrontHistogram,
}

impl FuncHandles {
    pub(crate) fn func(&self) -> &Text {
        &self.func
    }

    pub(crate) fn inflight(&self) -> &Gauge {
        &self.inflight
    }

    /// `f` with the handles of `status`, or `None` past
    /// [`MAX_STATUSES_PER_HANDLER`].
    fn with_status<R>(&self, status: u16, f: impl FnOnce(&StatusHandles) -> R) -> Option<R> {
        let make = || {
            let ctx = &*self.ctx;
            let endpoint = Endpoint {
                route: &self.route,
                method: self.method,
                func: &self.func,
            };
            let latency = ctx.naming.latency(&ctx.app, &endpoint, status);
            let cpu = ctx.naming.cpu_ns(&ctx.app, &endpoint, status);
            StatusHandles {
                status,
                text: status_text(status),
                counts: LevelHandles::new(ctx, |level| {
                    ctx.naming.response(&ctx.app, &endpoint, status, level)
                }),
                // Recorded in nanoseconds, reported in (fractional) milliseconds.
                latency: ctx
                    .registry
                    .histogram_with(&latency.name, &latency.tags, |b| {
                        b.scale(1e-6).http_request(HttpRequestDuration {
                            route: self.template.clone(),
                            method: self.method,
                            status,
                        })
                    }),
                cpu: ctx.registry.histogram(&cpu.name, &cpu.tags),
            }
        };
        self.statuses
            .with(
                u64::from(status),
                |s| s.status == status,
                make,
                MAX_STATUSES_PER_HANDLER,
                f,
            )
            .ok()
    }
}
