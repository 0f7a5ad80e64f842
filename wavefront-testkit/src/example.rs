//! Checks of an example binary run as a user would run it: real requests,
//! the `WAVEFRONT_*` environment, then a signal. Each example of the
//! workspace runs them from its `tests/run.rs`; the binary prints
//! `listening on <addr>` on stderr when it serves (`BIND_ADDR=127.0.0.1:0`)
//! and `stopped: N lines delivered, M dropped` when it exits.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::receiver::Receiver;

/// Starts the example `binary` with only `envs` (and `BIND_ADDR=127.0.0.1:0`)
/// in its environment; returns the process, the address it listens on, and
/// the rest of its standard error.
pub fn spawn(
    binary: &str,
    envs: &[(&str, String)],
) -> (Child, String, BufReader<std::process::ChildStderr>) {
    let mut command = Command::new(binary);
    command
        .env_clear()
        .env("BIND_ADDR", "127.0.0.1:0")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in envs {
        command.env(k, v);
    }
    let mut child = command.spawn().unwrap();
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut line = String::new();
    stderr.read_line(&mut line).unwrap();
    let addr = line
        .trim()
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("{line:?}"))
        .to_owned();
    (child, addr, stderr)
}

/// One HTTP/1.1 `GET` to `addr`; returns the status.
pub fn get(addr: &str, path: &str) -> u16 {
    get_with_headers(addr, path, "")
}

/// One HTTP/1.1 `GET` to `addr` with extra header lines (each ending in
/// `\r\n`, e.g. a `traceparent`); returns the status.
pub fn get_with_headers(addr: &str, path: &str, headers: &str) -> u16 {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\n{headers}Connection: close\r\n\r\n"
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    response
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

/// Sends SIGTERM and waits (at most 12 s) for a successful exit; returns
/// how long it took.
pub fn terminate(child: &mut Child) -> Duration {
    signal(child, "-TERM")
}

fn signal(child: &mut Child, signal: &str) -> Duration {
    let started = Instant::now();
    let killed = Command::new("kill")
        .args([signal, &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            assert!(status.success(), "{status:?}");
            return started.elapsed();
        }
        assert!(
            started.elapsed() < Duration::from_secs(12),
            "did not exit within 10 s"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Serves the Shirts requests, reports to a proxy, and on SIGTERM exits 0
/// within 10 s with everything flushed.
pub fn serves_reports_and_flushes_on_sigterm(binary: &str, component: &str) {
    let receiver = Receiver::start().unwrap();
    let (mut child, addr, _stderr) = spawn(
        binary,
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
            ("WAVEFRONT_REPORT_INTERVAL_SECS", "3600".into()),
        ],
    );
    assert_eq!(get(&addr, "/style/blue/make"), 200);
    assert_eq!(get(&addr, "/style/red/make"), 200);
    assert_eq!(get(&addr, "/bad-gateway"), 502);
    assert_eq!(get(&addr, "/orders/42/crash"), 500);
    assert_eq!(get(&addr, "/no/such/path"), 404);
    let took = terminate(&mut child);
    assert!(took < Duration::from_secs(10), "{took:?}");

    // Everything was flushed before the exit.
    assert!(receiver.wait_until(Duration::from_secs(5), |r| r.spans().len() == 5));
    let points = receiver.metrics();
    let last = |name: &str| {
        points
            .iter()
            .rev()
            .find(|p| p.name == name)
            .map(|p| (p.value, p.source.clone()))
    };
    assert_eq!(
        last(&format!(
            "{component}.response.style.id.make.GET.200.cumulative.count"
        )),
        Some((2.0, "example-host".into()))
    );
    assert_eq!(
        last(&format!(
            "{component}.response.orders.order_id.crash.GET.500.cumulative.count"
        ))
        .map(|v| v.0),
        Some(1.0)
    );
    assert_eq!(
        last(&format!(
            "{component}.response.unmatched.GET.404.cumulative.count"
        ))
        .map(|v| v.0),
        Some(1.0)
    );
    let beat = points
        .iter()
        .find(|p| p.name == "~component.heartbeat" && p.tag("component") == Some(component))
        .unwrap();
    assert_eq!(
        (beat.tag("application"), beat.tag("env")),
        (Some("Ordering"), Some("Staging"))
    );
    assert!(receiver
        .histograms()
        .iter()
        .any(|h| h.name == format!("{component}.response.style.id.make.summary.GET.200.latency")));
    assert!(receiver.rejected().is_empty(), "{:?}", receiver.rejected());
}

/// With no `WAVEFRONT_URL`, prints the lines it would send.
pub fn with_nothing_configured_it_prints_the_lines(binary: &str, component: &str) {
    let (mut child, addr, _stderr) =
        spawn(binary, &[("WAVEFRONT_REPORT_INTERVAL_SECS", "1".into())]);
    assert_eq!(get(&addr, "/style/blue/make"), 200);
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut seen = String::new();
    while !seen.contains(&format!(
        "{component}.response.style.id.make.GET.200.cumulative.count"
    )) {
        assert!(Instant::now() < deadline, "{seen}");
        let mut line = String::new();
        if stdout.read_line(&mut line).unwrap() == 0 {
            break;
        }
        seen.push_str(&line);
    }
    assert!(seen.contains("\"~component.heartbeat\" 1.0"), "{seen}");
    terminate(&mut child);
}

/// SIGINT stops it too, and it says what it sent.
pub fn sigint_stops_it_too_and_it_says_what_it_sent(binary: &str) {
    let (mut child, addr, mut stderr) =
        spawn(binary, &[("WAVEFRONT_REPORT_INTERVAL_SECS", "3600".into())]);
    assert_eq!(get(&addr, "/style/blue/make"), 200);
    let took = signal(&mut child, "-INT");
    assert!(took < Duration::from_secs(10), "{took:?}");
    let mut rest = String::new();
    stderr.read_to_string(&mut rest).unwrap();
    let stopped = rest
        .lines()
        .find(|l| l.starts_with("stopped: "))
        .unwrap_or_else(|| panic!("{rest}"));
    assert!(
        stopped.ends_with(" lines delivered, 0 dropped"),
        "{stopped}"
    );
}
