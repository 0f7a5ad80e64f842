//! The viewer's HTTP over real sockets: the page and its assets, the JSON,
//! and what it refuses. (`examples/axum/tests/viewer.rs` renders the page in
//! a browser.)

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use wavefront_testkit::parse;
use wavefront_testkit::receiver::{Channel, Received};
use wavefront_testkit::viewer::Viewer;

const TRACE: &str = "0af76519-16cd-43dd-8448-eb211c80319c";

/// The status line and body of one request.
fn request(addr: SocketAddr, method: &str, path: &str) -> (String, String) {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    write!(stream, "{method} {path} HTTP/1.1\r\nHost: viewer\r\n\r\n").unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let (head, body) = response.split_once("\r\n\r\n").unwrap();
    (head.lines().next().unwrap().to_owned(), body.to_owned())
}

fn line(channel: Channel, line: &str) -> Received {
    let parsed = match channel {
        Channel::TracingTcp => parse::parse_tracing_port_line(line),
        _ => parse::parse_metrics_port_line(line),
    };
    Received {
        channel,
        line: line.to_owned(),
        parsed,
    }
}

#[test]
fn serves_the_page_its_assets_and_the_json() {
    let viewer = Viewer::start("127.0.0.1:0".parse().unwrap()).unwrap();
    assert_eq!(viewer.url(), format!("http://{}/", viewer.addr()));
    viewer.ingest(&[
        line(
            Channel::TracingTcp,
            &format!(
                "\"op\" source=\"h\" traceId={TRACE} spanId={TRACE} \"error\"=\"true\" 1796270400000000 5"
            ),
        ),
        line(Channel::MetricsTcp, "nonsense"),
    ]);
    let addr = viewer.addr();

    let (status, page) = request(addr, "GET", "/");
    assert_eq!(status, "HTTP/1.1 200 OK");
    assert!(page.contains("<script src=\"/viewer.js\""));
    for asset in ["/viewer.js", "/viewer.css"] {
        let (status, body) = request(addr, "GET", asset);
        assert_eq!(
            (status.as_str(), body.is_empty()),
            ("HTTP/1.1 200 OK", false)
        );
    }
    let (_, summary) = request(addr, "GET", "/api/summary");
    assert!(summary.contains("\"exposed\":false"), "{summary}");
    assert!(summary.contains("\"rejected\":1"), "{summary}");
    let (_, traces) = request(addr, "GET", "/api/traces");
    assert!(traces.contains(TRACE), "{traces}");
    let (status, trace) = request(addr, "GET", &format!("/api/traces/{TRACE}"));
    assert_eq!(status, "HTTP/1.1 200 OK");
    assert!(trace.contains("\"operation\":\"op\""), "{trace}");
    let (_, problems) = request(addr, "GET", "/api/problems?x=1");
    assert!(problems.contains("\"line\":\"nonsense\""), "{problems}");
    for path in ["/api/routes", "/api/diagnostics"] {
        assert_eq!(request(addr, "GET", path).0, "HTTP/1.1 200 OK");
    }

    assert_eq!(
        request(addr, "GET", "/api/traces/nope").0,
        "HTTP/1.1 404 Not Found"
    );
    assert_eq!(
        request(addr, "GET", "/etc/passwd").0,
        "HTTP/1.1 404 Not Found"
    );
    assert_eq!(
        request(addr, "POST", "/api/summary").0,
        "HTTP/1.1 405 Method Not Allowed"
    );
    viewer.stop();
    assert!(TcpStream::connect(addr).is_err());
}

#[test]
fn off_loopback_the_page_is_told_it_is_exposed() {
    let viewer = Viewer::start("0.0.0.0:0".parse().unwrap()).unwrap();
    let local = SocketAddr::from(([127, 0, 0, 1], viewer.addr().port()));
    let (_, summary) = request(local, "GET", "/api/summary");
    assert!(summary.contains("\"exposed\":true"), "{summary}");
}
