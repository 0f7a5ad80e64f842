// The viewer page: polls /api every second and renders it. Data only ever
// reaches the page as textContent or attribute values, never as markup.
"use strict";

const POLL_MS = 1000;
const SVG = "http://www.w3.org/2000/svg";
let polls = 0;
let latestTrace = null;
const last = {}; // the JSON text last rendered, per section

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined) continue;
    if (k === "class") node.className = v;
    else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else node.setAttribute(k, String(v));
  }
  for (const child of children) {
    if (child === null || child === undefined) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

function svg(tag, attrs, ...children) {
  const node = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, String(v));
  for (const child of children) node.append(child);
  return node;
}

function fill(tbody, rows) {
  tbody.replaceChildren(...rows);
}

function fmtCount(n) {
  return Number.isInteger(n) ? n.toLocaleString("en-US") : n.toFixed(2);
}

function plural(n, what) {
  return `${fmtCount(n)} ${what}${n === 1 ? "" : "s"}`;
}

function fmtMs(ms) {
  if (ms === null || ms === undefined) return "–";
  if (ms < 1) return ms.toFixed(2) + " ms";
  if (ms < 100) return ms.toFixed(1) + " ms";
  if (ms < 10000) return Math.round(ms) + " ms";
  return (ms / 1000).toFixed(1) + " s";
}

function fmtUs(us) {
  if (us < 1000) return us + " µs";
  return fmtMs(us / 1000);
}

function fmtTime(ms) {
  return new Date(ms).toLocaleTimeString("en-GB", { hour12: false });
}

function fmtAgo(ms, now) {
  const s = Math.max(0, Math.round((now - ms) / 1000));
  if (s < 60) return s + " s ago";
  if (s < 3600) return Math.round(s / 60) + " min ago";
  return Math.round(s / 3600) + " h ago";
}

// A bar chart of requests per minute, errors stacked in red.
function rateChart(minutes) {
  const w = 112, h = 26, n = minutes.length;
  const max = Math.max(1, ...minutes.map((m) => m.requests));
  const bw = w / n;
  const chart = svg("svg", { class: "chart", width: w, height: h, viewBox: `0 0 ${w} ${h}`, role: "img" });
  const total = minutes.reduce((a, m) => a + m.requests, 0);
  chart.append(svg("title", {}, document.createTextNode(
    `${fmtCount(total)} requests over the last ${n} minutes (peak ${fmtCount(max)}/min)`)));
  chart.append(svg("line", { class: "base", x1: 0, y1: h - 0.5, x2: w, y2: h - 0.5 }));
  minutes.forEach((m, i) => {
    const rh = (m.requests / max) * (h - 2);
    const eh = (m.errors / max) * (h - 2);
    if (rh > 0) chart.append(svg("rect", { class: "bar", x: i * bw + 1, y: h - rh, width: bw - 2, height: rh }));
    if (eh > 0) chart.append(svg("rect", { class: "bar errors", x: i * bw + 1, y: h - eh, width: bw - 2, height: eh }));
  });
  return chart;
}

// A line of the p95 latency per minute (gaps where no histogram arrived).
function latencyChart(minutes) {
  const w = 112, h = 26, n = minutes.length;
  const values = minutes.map((m) => m.p95);
  const known = values.filter((v) => v !== null);
  const chart = svg("svg", { class: "chart", width: w, height: h, viewBox: `0 0 ${w} ${h}`, role: "img" });
  chart.append(svg("line", { class: "base", x1: 0, y1: h - 0.5, x2: w, y2: h - 0.5 }));
  if (known.length === 0) {
    chart.append(svg("title", {}, document.createTextNode("no latency histogram in the window yet")));
    return chart;
  }
  const max = Math.max(...known) || 1;
  chart.append(svg("title", {}, document.createTextNode(`p95 per minute, peak ${fmtMs(max)}`)));
  const x = (i) => (i + 0.5) * (w / n);
  const y = (v) => h - 2 - (v / max) * (h - 5);
  let points = [];
  const flush = () => {
    if (points.length === 1) {
      const [px, py] = points[0];
      chart.append(svg("circle", { class: "bar", cx: px, cy: py, r: 2 }));
    } else if (points.length > 1) {
      chart.append(svg("polyline", { class: "line", points: points.map((p) => p.join(",")).join(" ") }));
    }
    points = [];
  };
  values.forEach((v, i) => (v === null ? flush() : points.push([x(i).toFixed(1), y(v).toFixed(1)])));
  flush();
  return chart;
}

function renderSummary(s) {
  const status = document.getElementById("status");
  status.textContent =
    `${fmtCount(s.lines)} lines received: ${fmtCount(s.metrics)} metrics, ${fmtCount(s.delta_counters)} delta counters, ` +
    `${fmtCount(s.histograms)} histograms, ${fmtCount(s.spans)} spans, ${fmtCount(s.span_logs)} span logs, ` +
    `${fmtCount(s.rejected)} rejected` +
    (s.refused_requests ? ` · ${plural(s.refused_requests, "HTTP request")} refused` : "") +
    ` · updated ${fmtTime(s.now_ms)}`;
  document.getElementById("exposed").hidden = !s.exposed;
  const l = s.limits, d = s.dropped;
  document.getElementById("bounds").textContent =
    `Memory is bounded: the last ${l.minutes} minutes of each route, the last ${l.traces} traces ` +
    `(up to ${l.spans_per_trace} spans each), the last ${l.problems} rejected lines, ${l.series} diagnostic series. ` +
    `Dropped so far: ${d.traces} older traces, ${d.problems} older rejected lines, ` +
    `${d.route_series} route series and ${d.diagnostic_series} diagnostic series over the limits.`;
}

function renderRoutes(data) {
  const rows = data.routes.map((r) => {
    const errorRate = (r.error_rate * 100).toFixed(1) + " %";
    return el("tr", {
      class: r.errors > 0 ? "route bad" : "route",
      "data-component": r.component, "data-route": r.route, "data-method": r.method,
      "data-handler": r.handler, "data-requests": r.requests, "data-errors": r.errors,
      "data-latency-samples": r.latency_ms.samples,
    },
    el("td", {}, r.component),
    el("td", { class: "mono" }, r.route),
    el("td", {}, r.method),
    el("td", { class: "mono" }, r.handler),
    el("td", { class: "num" }, fmtCount(r.requests)),
    el("td", { class: r.errors > 0 ? "num err" : "num" }, fmtCount(r.errors)),
    el("td", { class: r.errors > 0 ? "num err" : "num" }, errorRate),
    el("td", { class: "num" }, fmtCount(r.in_flight)),
    el("td", { class: "num" }, fmtMs(r.latency_ms.p50)),
    el("td", { class: "num" }, fmtMs(r.latency_ms.p95)),
    el("td", { class: "num" }, fmtMs(r.latency_ms.p99)),
    el("td", {}, rateChart(r.minutes)),
    el("td", {}, latencyChart(r.minutes)));
  });
  fill(document.querySelector("#routes tbody"), rows);
  document.getElementById("routes-empty").hidden = rows.length > 0;
  document.getElementById("components").textContent = data.components
    .map((c) => `${c.component}: ${fmtCount(c.in_flight)} in flight now`)
    .join(" · ");
}

function selectedTrace() {
  const m = /^#trace=([0-9a-f-]+)$/.exec(location.hash);
  return m ? m[1] : latestTrace;
}

function renderTraces(data) {
  latestTrace = data.traces.length ? data.traces[0].trace_id : null;
  const selected = selectedTrace();
  const rows = data.traces.map((t) => el("tr", {
    class: "trace clickable" + (t.error ? " bad" : "") + (t.trace_id === selected ? " selected" : ""),
    "data-trace": t.trace_id, "data-root": t.root, "data-spans": t.span_count, "data-error": t.error,
    onclick: () => { location.hash = "trace=" + t.trace_id; },
  },
  el("td", {}, fmtTime(t.start_us / 1000)),
  el("td", { class: "mono", title: t.trace_id }, t.trace_id.slice(0, 8) + "…"),
  el("td", {}, t.root || "(no root)"),
  el("td", {}, t.services.join(", ")),
  el("td", { class: "num" }, t.span_count),
  el("td", { class: "num" }, fmtUs(t.duration_us)),
  el("td", { class: t.error ? "err" : "" }, t.error ? "error" : "")));
  fill(document.querySelector("#traces tbody"), rows);
  document.getElementById("traces-empty").hidden = rows.length > 0;
}

function spanRow(s, total, openIds) {
  const left = total > 0 ? (s.offset_us / total) * 100 : 0;
  const width = total > 0 ? (s.duration_us / total) * 100 : 100;
  const bar = el("div", { class: "bar", title: `${fmtUs(s.offset_us)} + ${fmtUs(s.duration_us)}` });
  bar.style.left = left.toFixed(2) + "%";
  bar.style.width = Math.min(width, 100 - left).toFixed(2) + "%";
  const name = el("div", { class: "name" },
    el("span", { class: "service" }, s.service),
    el("span", { class: s.error ? "err" : "" }, s.operation));
  name.style.paddingLeft = (s.depth * 20) + "px";
  const tags = el("div", { class: "tags" },
    ...[["source", s.source], ...s.tags].map(([k, v]) => el("span", { class: "mono" }, `${k}=${v}`)));
  const details = el("details", { "data-span": s.span_id }, el("summary", {}, `${s.tags.length} tags`), tags);
  if (openIds.has(s.span_id)) details.open = true;
  const logs = s.logs.map((log) => el("div", { class: "log" },
    el("span", { class: "at" }, "log +" + fmtUs(log.offset_us)),
    el("span", { class: "mono" }, log.fields.map(([k, v]) => `${k}: ${v}`).join("  "))));
  const row = el("div", {
    class: "span" + (s.error ? " error" : ""),
    "data-span": s.span_id, "data-parent": s.parent_id, "data-depth": s.depth,
    "data-operation": s.operation, "data-service": s.service, "data-error": s.error,
  },
  el("div", { class: "head" }, name, el("div", { class: "track" }, bar), el("div", { class: "dur" }, fmtUs(s.duration_us))),
  ...logs, details);
  return row;
}

function renderWaterfall(t) {
  const box = document.getElementById("waterfall");
  if (!t) { box.hidden = true; return; }
  // Keep what the reader opened; a newly shown trace opens its error spans.
  const openIds = box.dataset.trace === t.trace_id
    ? new Set([...box.querySelectorAll("details[open]")].map((d) => d.dataset.span))
    : new Set(t.spans.filter((s) => s.error).map((s) => s.span_id));
  box.hidden = false;
  box.dataset.trace = t.trace_id;
  document.getElementById("waterfall-title").textContent =
    `Trace ${t.trace_id} · ${t.root || "(no root)"} · ${t.span_count} spans · ${t.services.join(", ")} · ${fmtUs(t.duration_us)}` +
    (t.refused ? ` · ${t.refused} spans or logs over the limit not kept` : "");
  fill(document.getElementById("waterfall-rows"), t.spans.map((s) => spanRow(s, t.duration_us, openIds)));
}

function renderProblems(data) {
  const rows = data.problems.map((p) => el("tr", { class: "problem", "data-code": p.code },
    el("td", { class: "num" }, p.number),
    el("td", {}, fmtTime(p.at_ms)),
    el("td", {}, p.channel),
    el("td", {}, el("span", { class: "err" }, p.code), ": " + p.reason),
    el("td", { class: "line" }, p.line)));
  fill(document.querySelector("#problems tbody"), rows);
  document.getElementById("problems-empty").hidden = rows.length > 0;
}

// Diagnostics whose non-zero value means something went wrong.
const BAD = /\.(dropped|invalid|errors|refused|conflicts|overflow|panics|discarded|dropped_samples)(\.|$)|\.report\.[45]\d\d\./;

function renderDiagnostics(data, now) {
  const isBad = (d) => BAD.test(d.name) && (d.delta ? d.total : d.last) > 0;
  // Bad news first.
  const sorted = [...data.diagnostics].sort((a, b) => isBad(b) - isBad(a));
  const rows = sorted.map((d) => {
    const bad = isBad(d);
    return el("tr", { class: bad ? "diagnostic bad" : "diagnostic", "data-name": d.name },
      el("td", { class: "mono" }, (d.delta ? "∆" : "") + d.name),
      el("td", {}, d.source),
      el("td", { class: "num" }, fmtCount(d.last)),
      el("td", { class: "num" }, d.delta ? fmtCount(d.total) : ""));
  });
  fill(document.querySelector("#diagnostics tbody"), rows);
  const beats = data.heartbeats.map((h) => el("tr", { class: "heartbeat", "data-component": h.component },
    el("td", {}, h.component),
    el("td", {}, h.service),
    el("td", {}, h.source),
    el("td", {}, fmtAgo(h.at_ms, now)),
    el("td", { class: "num" }, h.beats)));
  fill(document.querySelector("#heartbeats tbody"), beats);
}

async function getJson(path) {
  const response = await fetch(path, { cache: "no-store" });
  if (!response.ok) return null;
  return response.json();
}

// Renders `data` with `render` unless it is what was rendered last.
function update(section, data, render) {
  const text = JSON.stringify(data);
  if (last[section] === text) return;
  last[section] = text;
  render(data);
}

async function poll() {
  try {
    const [summary, routes, traces, problems, diagnostics] = await Promise.all(
      ["summary", "routes", "traces", "problems", "diagnostics"].map((p) => getJson("/api/" + p)));
    renderSummary(summary);
    update("routes", routes, renderRoutes);
    update("traces", traces, renderTraces);
    const id = selectedTrace();
    const trace = id ? await getJson("/api/traces/" + id) : null;
    update("trace", trace, renderWaterfall);
    update("problems", problems, renderProblems);
    renderDiagnostics(diagnostics, summary.now_ms);
    polls += 1;
    document.body.dataset.polls = polls;
  } catch (e) {
    document.getElementById("status").textContent = "cannot reach the receiver: " + e;
  }
}

window.addEventListener("hashchange", () => { delete last.traces; delete last.trace; poll(); });
poll();
setInterval(poll, POLL_MS);
