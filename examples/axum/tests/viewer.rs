//! The viewer as a person sees it: the example serves real requests and
//! reports to a receiver, then a headless Chromium loads the viewer's page
//! and the test reads what it rendered (and takes a screenshot, kept out of
//! git under the target directory).

use std::io::{BufRead, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use wavefront_testkit::example;
use wavefront_testkit::receiver::Receiver;
use wavefront_testkit::viewer::Viewer;

const BINARY: &str = env!("CARGO_BIN_EXE_example-axum");

/// The trace a "frontend" service starts and passes on in `traceparent`.
const TRACE: &str = "0af76519-16cd-43dd-8448-eb211c80319c";
const TRACEPARENT: &str = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
const FRONTEND_SPAN: &str = "00000000-0000-0000-b7ad-6b7169203331";
/// A line the strict parser rejects; its markup must show as text.
const BAD_LINE: &str = "<b>cpu.load</b> high source=host-1";

#[test]
fn the_page_shows_routes_traces_and_rejected_lines() {
    let chromium = chromium();
    let receiver = Arc::new(Receiver::start().unwrap());
    let viewer = Viewer::follow(Arc::clone(&receiver), "127.0.0.1:0".parse().unwrap()).unwrap();

    let (mut child, addr, stderr) = example::spawn(
        BINARY,
        &[
            (
                "WAVEFRONT_URL",
                format!("proxy://127.0.0.1:{}", receiver.metrics_addr().port()),
            ),
            (
                "WAVEFRONT_TRACES_PORT",
                receiver.tracing_addr().port().to_string(),
            ),
            ("WAVEFRONT_SOURCE", "example-host".into()),
            ("WAVEFRONT_REPORT_INTERVAL_SECS", "1".into()),
        ],
    );
    // The crash route's panics print backtraces: keep the pipe drained.
    std::thread::spawn(move || stderr.lines().for_each(drop));

    let started_us = now_us();
    assert_eq!(get(&addr, "/style/blue/make", Some(TRACEPARENT)), 200);
    assert_eq!(get(&addr, "/bad-gateway", Some(TRACEPARENT)), 502);
    let ended_us = now_us();
    for path in ["/style/red/make", "/style/green/make", "/style/blue/make"] {
        assert_eq!(get(&addr, path, None), 200);
    }
    assert_eq!(get(&addr, "/bad-gateway", None), 502);
    for id in 1..=3 {
        assert_eq!(get(&addr, &format!("/orders/{id}/crash"), None), 500);
    }
    // Stopping flushes everything, the current minute's histograms too.
    example::terminate(&mut child);

    // The frontend's own span, and a line no proxy would take.
    send(
        receiver.tracing_addr(),
        &format!(
            "\"GET /checkout\" source=\"web-1\" traceId={TRACE} spanId={FRONTEND_SPAN} \
             \"application\"=\"Ordering\" \"service\"=\"frontend\" \"span.kind\"=\"client\" {} {}\n",
            started_us - 500,
            ended_us - started_us + 1000
        ),
    );
    send(receiver.metrics_addr(), &format!("{BAD_LINE}\n"));
    // And a direct-ingestion request to the wrong path.
    let refused = request(
        &receiver.http_addr().to_string(),
        "POST /api/v2/wfproxy HTTP/1.1\r\nContent-Length: 0\r\n",
    );
    assert!(refused.starts_with("HTTP/1.1 404"), "{refused}");
    assert!(
        receiver.wait_until(Duration::from_secs(10), |r| r.spans().len() == 10
            && r.rejected().len() == 1),
        "{:?}",
        receiver.spans()
    );
    // The viewer reads the receiver every 200 ms.
    let deadline = Instant::now() + Duration::from_secs(5);
    while !api(viewer.addr(), "/api/summary").contains("\"spans\":10") {
        assert!(
            Instant::now() < deadline,
            "{}",
            api(viewer.addr(), "/api/summary")
        );
        std::thread::sleep(Duration::from_millis(50));
    }

    let url = format!("{}#trace={TRACE}", viewer.url());
    let dom = dump_dom(&chromium, &url);
    let screenshot = screenshot(&chromium, &url);
    println!("screenshot: {}", screenshot.display());

    // Routes: one row per route and handler, with exact counts.
    let row = |handler: &str| {
        elements(&dom, "data-handler", handler)
            .into_iter()
            .next()
            .unwrap_or_else(|| panic!("no row for {handler}:\n{dom}"))
    };
    for (handler, route, requests, errors) in [
        ("make_shirts", "style.id.make", "4", "0"),
        ("bad_gateway", "bad_gateway", "2", "2"),
        ("crash", "orders.order_id.crash", "3", "3"),
    ] {
        let row = row(handler);
        assert_eq!(attr(row, "data-component"), Some("axum"), "{row}");
        assert_eq!(attr(row, "data-route"), Some(route), "{row}");
        assert_eq!(attr(row, "data-method"), Some("GET"), "{row}");
        assert_eq!(attr(row, "data-requests"), Some(requests), "{row}");
        assert_eq!(attr(row, "data-errors"), Some(errors), "{row}");
        // Latency from the minute histograms flushed at shutdown.
        assert_eq!(attr(row, "data-latency-samples"), Some(requests), "{row}");
        assert!(attr(row, "class").unwrap().contains("bad") == (errors != "0"));
    }

    // Traces: the frontend's trace in the list, and its waterfall.
    let trace = elements(&dom, "data-trace", TRACE);
    let listed = trace
        .iter()
        .find(|t| t.starts_with("<tr"))
        .unwrap_or_else(|| panic!("trace not listed:\n{dom}"));
    assert_eq!(attr(listed, "data-root"), Some("GET /checkout"));
    assert_eq!(attr(listed, "data-spans"), Some("3"));
    assert_eq!(attr(listed, "data-error"), Some("true"));
    assert!(
        trace.iter().any(|t| t.starts_with("<div id=\"waterfall\"")),
        "{dom}"
    );
    let spans: Vec<(&str, &str, &str, &str)> = dom
        .match_indices("<div class=\"span")
        .map(|(at, _)| {
            let tag = &dom[at..at + dom[at..].find('>').unwrap()];
            (
                attr(tag, "data-operation").unwrap(),
                attr(tag, "data-depth").unwrap(),
                attr(tag, "data-service").unwrap(),
                attr(tag, "data-error").unwrap(),
            )
        })
        .collect();
    assert_eq!(
        spans,
        [
            ("GET /checkout", "0", "frontend", "false"),
            ("make_shirts", "1", "styling", "false"),
            ("bad_gateway", "1", "styling", "true"),
        ]
    );
    assert!(dom.contains("message: HTTP 502"), "span log: {dom}");
    assert!(dom.contains("http.status_code=502"), "span tags: {dom}");

    // Problems: the rejected line, as text, with its reason, and the
    // refused request.
    let problem = elements(&dom, "data-code", "syntax");
    assert_eq!(problem.len(), 1, "{dom}");
    assert!(
        dom.contains("&lt;b&gt;cpu.load&lt;/b&gt; high source=host-1"),
        "{dom}"
    );
    assert!(!dom.contains(BAD_LINE));
    assert!(dom.contains("is not a finite decimal number"), "{dom}");
    assert_eq!(elements(&dom, "data-code", "http").len(), 1, "{dom}");
    assert!(dom.contains("POST /api/v2/wfproxy"), "{dom}");
    // Diagnostics and heartbeats.
    assert!(dom.contains("~sdk.rust.core.sender.proxy.points.queue.size"));
    assert!(!elements(&dom, "data-component", "axum").is_empty());
    // On loopback: no warning.
    assert!(
        dom.contains("id=\"exposed\" class=\"banner\" hidden"),
        "{dom}"
    );

    viewer.stop();
}

/// `chromium` or `chromium-browser` on the `PATH`.
fn chromium() -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .flat_map(|dir| ["chromium", "chromium-browser"].map(|name| dir.join(name)))
        .find(|p| p.is_file())
        .expect(
            "this test needs a headless Chromium: `apt-get install chromium` \
             (.ci/run installs it)",
        )
}

fn headless(chromium: &Path, args: &[&str]) -> String {
    let profile = std::env::temp_dir().join(format!("viewer-chromium-{}", std::process::id()));
    let mut child = Command::new(chromium)
        .args([
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--hide-scrollbars",
            "--virtual-time-budget=5000",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut out = String::new();
        stdout.read_to_string(&mut out).map(|_| out)
    });
    let deadline = Instant::now() + Duration::from_secs(60);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("chromium did not finish within 60 s");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = std::fs::remove_dir_all(&profile);
    reader.join().unwrap().unwrap()
}

fn dump_dom(chromium: &Path, url: &str) -> String {
    let dom = headless(chromium, &["--dump-dom", url]);
    assert!(
        dom.contains("data-polls="),
        "the page never updated:\n{dom}"
    );
    dom
}

fn screenshot(chromium: &Path, url: &str) -> PathBuf {
    let path = Path::new(env!("CARGO_TARGET_TMPDIR")).join("viewer.png");
    let _ = std::fs::remove_file(&path);
    headless(
        chromium,
        &[
            &format!("--screenshot={}", path.display()),
            "--window-size=1280,1600",
            url,
        ],
    );
    let size = std::fs::metadata(&path).map_or(0, |m| m.len());
    assert!(size > 10_000, "{} is {size} bytes", path.display());
    path
}

/// The opening tags of the elements whose `name` attribute is `value`.
fn elements<'a>(dom: &'a str, name: &str, value: &str) -> Vec<&'a str> {
    let needle = format!("{name}=\"{value}\"");
    dom.match_indices(&needle)
        .filter_map(|(at, _)| {
            let start = dom[..at].rfind('<')?;
            let end = at + dom[at..].find('>')?;
            Some(&dom[start..end])
        })
        .collect()
}

/// The value of attribute `name` in an opening tag.
fn attr<'a>(tag: &'a str, name: &str) -> Option<&'a str> {
    let at = tag.find(&format!(" {name}=\""))? + name.len() + 3;
    let len = tag[at..].find('"')?;
    Some(&tag[at..at + len])
}

fn now_us() -> u64 {
    let since = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
    u64::try_from(since.as_micros()).unwrap()
}

fn send(addr: SocketAddr, text: &str) {
    TcpStream::connect(addr)
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
}

/// One `GET`, optionally with a `traceparent`; returns the status.
fn get(addr: &str, path: &str, traceparent: Option<&str>) -> u16 {
    let header = traceparent.map_or(String::new(), |t| format!("traceparent: {t}\r\n"));
    let response = request(
        addr,
        &format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\n{header}"),
    );
    response
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

/// The body of a `GET` to the viewer.
fn api(addr: SocketAddr, path: &str) -> String {
    let response = request(&addr.to_string(), &format!("GET {path} HTTP/1.1\r\n"));
    response
        .split_once("\r\n\r\n")
        .map(|(_, body)| body.to_owned())
        .unwrap_or_default()
}

fn request(addr: &str, head: &str) -> String {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    write!(stream, "{head}Connection: close\r\n\r\n").unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    response
}
