//! The receiver over real sockets: raw TCP lines with `TcpStream`, HTTP with a
//! small hand-written HTTP/1.1 client. Every wait is bounded (5 s at most).

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use flate2::write::GzEncoder;
use flate2::Compression;
use wavefront_testkit::parse::Line;
use wavefront_testkit::receiver::{Channel, Receiver};

const WAIT: Duration = Duration::from_secs(5);

const METRIC: &str = "\"cpu.load\" 0.5 1700000000 source=\"host-1\" \"env\"=\"prod\"";
const HISTOGRAM: &str =
    "!M 1493773500 #20 30.0 #10 5.1 \"request.latency\" source=\"appServer1\" \"region\"=\"us-west\"";
const SPAN: &str = "\"getAllUsers\" source=\"localhost\" traceId=7b3bf470-9456-11e8-9eb6-529269fb1459 \
                    spanId=0313bafe-9457-11e8-9eb6-529269fb1459 parent=2f64e538-9457-11e8-9eb6-529269fb1459 \
                    \"application\"=\"Wavefront\" 1493773500 343500";
const SPAN_LOGS: &str = "{\"traceId\":\"7b3bf470-9456-11e8-9eb6-529269fb1459\",\
                         \"spanId\":\"0313bafe-9457-11e8-9eb6-529269fb1459\",\
                         \"logs\":[{\"timestamp\":1493773500000,\"fields\":{\"event\":\"error\"}}]}";

fn connect(addr: SocketAddr) -> TcpStream {
    let stream = TcpStream::connect_timeout(&addr, WAIT).expect("connect");
    stream.set_read_timeout(Some(WAIT)).unwrap();
    stream.set_write_timeout(Some(WAIT)).unwrap();
    stream
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = GzEncoder::new(Vec::new(), Compression::default());
    encoder.write_all(bytes).unwrap();
    encoder.finish().unwrap()
}

/// Whether the peer closed `stream` (EOF or reset) within 5 s.
fn closed_by_peer(stream: &mut TcpStream) -> bool {
    let mut buf = [0; 1024];
    let deadline = Instant::now() + WAIT;
    while Instant::now() < deadline {
        match stream.read(&mut buf) {
            Ok(0) => return true,
            Ok(_) => {}
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                return false
            }
            Err(_) => return true,
        }
    }
    false
}

/// A minimal HTTP/1.1 client over one connection.
struct Http {
    stream: TcpStream,
    buf: Vec<u8>,
}

impl Http {
    fn connect(addr: SocketAddr) -> Http {
        Http {
            stream: connect(addr),
            buf: Vec::new(),
        }
    }

    /// Sends one request (adding `Content-Length`) and reads the response:
    /// its status and headers (the body must be empty).
    fn send(
        &mut self,
        target: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> io::Result<(u16, Vec<(String, String)>)> {
        let mut request = format!("POST {target} HTTP/1.1\r\nHost: 127.0.0.1\r\n");
        for (name, value) in headers {
            request.push_str(&format!("{name}: {value}\r\n"));
        }
        request.push_str(&format!("Content-Length: {}\r\n\r\n", body.len()));
        let mut bytes = request.into_bytes();
        bytes.extend_from_slice(body);
        self.stream.write_all(&bytes)?;
        self.response()
    }

    fn response(&mut self) -> io::Result<(u16, Vec<(String, String)>)> {
        let end = loop {
            if let Some(i) = self.buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break i + 4;
            }
            let mut chunk = [0; 4096];
            match self.stream.read(&mut chunk)? {
                0 => return Err(io::ErrorKind::UnexpectedEof.into()),
                n => self.buf.extend_from_slice(&chunk[..n]),
            }
        };
        let head = String::from_utf8(self.buf.drain(..end).collect()).unwrap();
        let mut lines = head.trim_end().split("\r\n");
        let status_line = lines.next().unwrap();
        assert!(status_line.starts_with("HTTP/1.1 "), "{status_line}");
        let status = status_line[9..12].parse().unwrap();
        let headers: Vec<(String, String)> = lines
            .map(|l| {
                let (k, v) = l.split_once(':').unwrap();
                (k.to_ascii_lowercase(), v.trim().to_owned())
            })
            .collect();
        assert!(
            headers.contains(&("content-length".to_owned(), "0".to_owned())),
            "{headers:?}"
        );
        Ok((status, headers))
    }
}

/// One request on a fresh connection; its status.
fn post(addr: SocketAddr, target: &str, headers: &[(&str, &str)], body: &[u8]) -> u16 {
    let mut http = Http::connect(addr);
    let mut all = headers.to_vec();
    all.push(("Connection", "close"));
    http.send(target, &all, body).expect("HTTP request").0
}

#[test]
fn receiver_is_shareable_between_threads() {
    fn send_sync<T: Send + Sync>() {}
    send_sync::<Receiver>();
    let receiver = Receiver::start().unwrap();
    std::thread::scope(|s| {
        s.spawn(|| {
            let mut sender = connect(receiver.metrics_addr());
            sender.write_all(format!("{METRIC}\n").as_bytes()).unwrap();
        });
        assert!(receiver.wait_for_lines(1, WAIT));
    });
    assert_eq!(receiver.metrics().len(), 1);
}

#[test]
fn metrics_port_raw_lines() {
    let receiver = Receiver::start().unwrap();
    let mut sender = connect(receiver.metrics_addr());
    let text = format!(
        "{METRIC}\n\n{HISTOGRAM}\r\n{SPAN_LOGS}\nnot a metric\n{SPAN}\n\"cpu.load\" 0.5 source=\"a\" \"k\"=\"C:\\\"\n"
    );
    sender.write_all(text.as_bytes()).unwrap();
    assert!(receiver.wait_for_lines(6, WAIT));

    let received = receiver.received();
    assert_eq!(received.len(), 6);
    assert!(received.iter().all(|r| r.channel == Channel::MetricsTcp));
    assert_eq!(received[1].line, HISTOGRAM, "the \\r is dropped");
    let metrics = receiver.metrics();
    assert_eq!(metrics.len(), 1);
    assert_eq!(
        (
            metrics[0].name.as_str(),
            metrics[0].value,
            metrics[0].source.as_str()
        ),
        ("cpu.load", 0.5, "host-1")
    );
    assert_eq!(metrics[0].tag("env"), Some("prod"));
    assert_eq!(receiver.histograms()[0].count(), 30);
    assert_eq!(receiver.span_logs()[0].logs[0].timestamp, 1493773500000);
    assert!(receiver.spans().is_empty(), "no spans on the metrics port");

    let rejected: Vec<String> = receiver.rejected().into_iter().map(|r| r.line).collect();
    assert_eq!(
        rejected,
        [
            "not a metric",
            SPAN,
            "\"cpu.load\" 0.5 source=\"a\" \"k\"=\"C:\\\""
        ]
    );

    receiver.clear();
    assert!(receiver.received().is_empty());
    assert!(!receiver.wait_for_lines(1, Duration::from_millis(50)));
}

#[test]
fn tracing_port_raw_lines() {
    let receiver = Receiver::start().unwrap();
    let mut sender = connect(receiver.tracing_addr());
    sender
        .write_all(format!("{SPAN}\n{SPAN_LOGS}\n{METRIC}\n").as_bytes())
        .unwrap();
    // A last line without its \n, then the sender closes.
    sender.write_all(SPAN.as_bytes()).unwrap();
    drop(sender);
    assert!(receiver.wait_for_lines(4, WAIT));

    let spans = receiver.spans();
    assert_eq!(spans.len(), 1);
    assert_eq!(spans[0].operation, "getAllUsers");
    assert_eq!(spans[0].trace_id, "7b3bf470-9456-11e8-9eb6-529269fb1459");
    assert_eq!(spans[0].tag("application"), Some("Wavefront"));
    assert_eq!(receiver.span_logs().len(), 1);
    let rejected = receiver.rejected();
    assert_eq!(rejected.len(), 2);
    assert!(rejected.iter().all(|r| r.channel == Channel::TracingTcp));
    assert_eq!(rejected[0].line, METRIC, "metrics are not spans");
    assert_eq!(
        rejected[1].line, SPAN,
        "an unterminated last line is rejected"
    );
    assert!(rejected[1]
        .parsed
        .as_ref()
        .unwrap_err()
        .reason
        .contains("\\n"));
}

#[test]
fn invalid_utf8_is_rejected() {
    let receiver = Receiver::start().unwrap();
    let mut sender = connect(receiver.metrics_addr());
    sender.write_all(b"\"m\" 1 source=\"\xff\"\n").unwrap();
    assert!(receiver.wait_for_lines(1, WAIT));
    let rejected = receiver.rejected();
    assert_eq!(rejected.len(), 1);
    assert_eq!(rejected[0].line, "\"m\" 1 source=\"\u{fffd}\"");
}

#[test]
fn http_gzip_token_and_keep_alive() {
    let receiver = Receiver::builder().token("abc").start().unwrap();
    assert_eq!(
        receiver.http_url(),
        format!("http://127.0.0.1:{}", receiver.http_addr().port())
    );
    let auth = ("Authorization", "Bearer abc");
    let gz = ("Content-Encoding", "gzip");
    let mut http = Http::connect(receiver.http_addr());
    let body = gzip(format!("{METRIC}\n{METRIC}\nbad line\n").as_bytes());
    let (status, headers) = http
        .send("/report?f=wavefront", &[auth, gz], &body)
        .unwrap();
    assert_eq!(status, 202);
    assert!(!headers.iter().any(|(k, _)| k == "connection"));
    // Same connection: a second request, not gzipped, last line unterminated.
    let body = format!("{SPAN}\n{SPAN}");
    let (status, _) = http
        .send("/report?f=trace", &[auth], body.as_bytes())
        .unwrap();
    assert_eq!(status, 202);
    let body = gzip(format!("{SPAN_LOGS}\n").as_bytes());
    let (status, headers) = http
        .send(
            "/report?f=spanLogs",
            &[auth, gz, ("Connection", "close")],
            &body,
        )
        .unwrap();
    assert_eq!(status, 202);
    assert!(headers.contains(&("connection".to_owned(), "close".to_owned())));
    assert!(closed_by_peer(&mut http.stream));

    let requests = receiver.http_requests();
    assert_eq!(requests.len(), 3);
    assert_eq!(requests[0].path_and_query, "/report?f=wavefront");
    assert_eq!(requests[0].header("content-encoding"), Some("gzip"));
    assert_eq!(
        requests
            .iter()
            .map(|r| (r.status_sent, r.lines))
            .collect::<Vec<_>>(),
        [(202, 3), (202, 2), (202, 1)]
    );
    assert!(requests
        .iter()
        .all(|r| !r.on_metrics_port && r.method == "POST"));
    assert_eq!(receiver.metrics().len(), 2);
    assert_eq!(receiver.spans().len(), 2);
    assert_eq!(receiver.span_logs().len(), 1);
    let rejected = receiver.rejected();
    assert_eq!(rejected.len(), 1);
    assert_eq!(rejected[0].line, "bad line");
    assert_eq!(
        rejected[0].channel,
        Channel::Http {
            format: "wavefront".into()
        }
    );

    // Wrong or missing token: 401, nothing recorded.
    receiver.clear();
    let body = format!("{METRIC}\n");
    let wrong = ("Authorization", "Bearer abd");
    assert_eq!(
        post(
            receiver.http_addr(),
            "/report?f=wavefront",
            &[wrong],
            body.as_bytes()
        ),
        401
    );
    assert_eq!(
        post(
            receiver.http_addr(),
            "/report?f=wavefront",
            &[],
            body.as_bytes()
        ),
        401
    );
    assert_eq!(receiver.line_count(), 0);
    let statuses: Vec<u16> = receiver
        .http_requests()
        .iter()
        .map(|r| r.status_sent)
        .collect();
    assert_eq!(statuses, [401, 401]);
    assert_eq!(
        post(
            receiver.http_addr(),
            "/report?f=wavefront",
            &[auth],
            body.as_bytes()
        ),
        202
    );
    assert_eq!(receiver.metrics().len(), 1);
}

#[test]
fn http_bad_requests() {
    let receiver = Receiver::start().unwrap();
    let addr = receiver.http_addr();
    let line = format!("{METRIC}\n");
    let gz = ("Content-Encoding", "gzip");
    assert_eq!(post(addr, "/report?f=nonsense", &[], line.as_bytes()), 400);
    assert_eq!(
        post(addr, "/report?f=wavefront", &[gz], b"not gzip at all"),
        400
    );
    assert_eq!(
        post(addr, "/elsewhere?f=wavefront", &[], line.as_bytes()),
        404
    );
    assert_eq!(receiver.line_count(), 0);

    // The format decides the parser: a histogram sent as f=wavefront is bad.
    assert_eq!(
        post(addr, "/report?f=wavefront", &[], HISTOGRAM.as_bytes()),
        202
    );
    assert_eq!(
        post(addr, "/report?f=histogram", &[], HISTOGRAM.as_bytes()),
        202
    );
    assert_eq!(post(addr, "/report", &[], HISTOGRAM.as_bytes()), 202);
    assert!(receiver.wait_for_lines(3, WAIT));
    assert_eq!(receiver.histograms().len(), 2);
    assert_eq!(receiver.rejected().len(), 1);
    assert_eq!(
        receiver.received()[2].channel,
        Channel::Http {
            format: String::new()
        }
    );

    // Chunked bodies are refused.
    let mut stream = connect(addr);
    stream
        .write_all(
            b"POST /report HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
        )
        .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    assert!(response.starts_with("HTTP/1.1 411 "), "{response}");

    // Garbage instead of a request line.
    let mut stream = connect(addr);
    stream.write_all(b"hello there\r\n\r\n").unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    assert!(response.starts_with("HTTP/1.1 400 "), "{response}");
}

#[test]
fn http_on_the_metrics_port() {
    let receiver = Receiver::builder().token("abc").start().unwrap();
    let body = gzip(format!("{METRIC}\n{SPAN_LOGS}\n").as_bytes());
    // A proxy port needs no token.
    let status = post(
        receiver.metrics_addr(),
        "/report",
        &[("Content-Encoding", "gzip")],
        &body,
    );
    assert_eq!(status, 202);
    let status = post(
        receiver.metrics_addr(),
        "/report?f=trace",
        &[],
        format!("{SPAN}\n").as_bytes(),
    );
    assert_eq!(status, 202);
    assert_eq!(receiver.metrics().len(), 1);
    assert_eq!(receiver.span_logs().len(), 1);
    assert_eq!(receiver.spans().len(), 1);
    assert!(receiver.rejected().is_empty());
    let requests = receiver.http_requests();
    assert_eq!(requests.len(), 2);
    assert!(requests.iter().all(|r| r.on_metrics_port));
    assert!(receiver
        .received()
        .iter()
        .all(|r| matches!(r.channel, Channel::Http { .. })));
}

#[test]
fn refuse_connections_then_accept_again() {
    let receiver = Receiver::start().unwrap();
    let addrs = [
        receiver.metrics_addr(),
        receiver.tracing_addr(),
        receiver.http_addr(),
    ];
    receiver.faults().set_refuse_connections(true);
    assert!(receiver.faults().refusing_connections());
    for addr in addrs {
        let err = TcpStream::connect_timeout(&addr, WAIT).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::ConnectionRefused, "{addr}");
    }
    receiver.faults().set_refuse_connections(false);
    let mut sender = connect(receiver.metrics_addr());
    assert_eq!(sender.peer_addr().unwrap(), addrs[0]);
    sender.write_all(format!("{METRIC}\n").as_bytes()).unwrap();
    assert!(receiver.wait_for_lines(1, WAIT));
    assert_eq!(receiver.metrics().len(), 1);
    assert_eq!(
        post(addrs[2], "/report", &[], format!("{METRIC}\n").as_bytes()),
        202
    );
    assert_eq!(receiver.metrics().len(), 2);
}

#[test]
fn close_after_bytes_cuts_connections_mid_stream() {
    let receiver = Receiver::start().unwrap();
    let line = format!("{METRIC}\n");
    receiver
        .faults()
        .set_close_after_bytes(Some(line.len() + 10));
    let mut sender = connect(receiver.metrics_addr());
    sender.write_all(line.repeat(3).as_bytes()).unwrap();
    assert!(closed_by_peer(&mut sender));
    assert!(receiver.wait_for_lines(1, WAIT));
    // The partial second line is dropped, not rejected.
    assert!(!receiver.wait_for_lines(2, Duration::from_millis(100)));
    assert_eq!(receiver.metrics().len(), 1);
    assert!(receiver.rejected().is_empty());

    // HTTP connections are cut too: no answer.
    let mut http = Http::connect(receiver.http_addr());
    assert!(http
        .send("/report", &[], line.repeat(3).as_bytes())
        .is_err());
    assert!(receiver.http_requests().is_empty());

    receiver.faults().set_close_after_bytes(None);
    let mut sender = connect(receiver.metrics_addr());
    sender.write_all(line.repeat(3).as_bytes()).unwrap();
    assert!(receiver.wait_for_lines(4, WAIT));
    assert_eq!(receiver.metrics().len(), 4);
}

#[test]
fn stall_blocks_senders_then_everything_arrives() {
    let receiver = Receiver::start().unwrap();
    receiver.faults().set_stall(true);
    let pad = "v".repeat(200);
    let mut data = Vec::new();
    let mut lines = 0;
    while data.len() < 32 << 20 {
        data.extend_from_slice(
            format!("\"stall.m\" {lines} source=\"h\" \"pad\"=\"{pad}\"\n").as_bytes(),
        );
        lines += 1;
    }
    let mut sender = connect(receiver.metrics_addr());
    sender
        .set_write_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let mut written = 0;
    let blocked = loop {
        match sender.write(&data[written..]) {
            Ok(n) => written += n,
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                break true;
            }
            Err(e) => panic!("{e}"),
        }
        if written == data.len() {
            break false;
        }
    };
    assert!(
        blocked,
        "the sender never blocked ({written} bytes written)"
    );
    assert_eq!(receiver.line_count(), 0, "nothing is read while stalled");

    receiver.faults().set_stall(false);
    sender.set_write_timeout(Some(WAIT)).unwrap();
    // Only send what a test can parse quickly: finish the current line, stop.
    let end = written + data[written..].iter().position(|&b| b == b'\n').unwrap() + 1;
    sender.write_all(&data[written..end]).unwrap();
    let expected = data[..end].iter().filter(|&&b| b == b'\n').count();
    assert!(expected < lines);
    assert!(
        receiver.wait_for_lines(expected, WAIT),
        "{} of {expected} lines",
        receiver.line_count()
    );
    let received = receiver.received();
    assert_eq!(received.len(), expected);
    for (i, r) in received.iter().enumerate() {
        assert!(
            r.line.starts_with(&format!("\"stall.m\" {i} ")),
            "{i}: {}",
            r.line
        );
    }
    assert!(receiver.rejected().is_empty());
}

#[test]
fn http_status_faults() {
    let receiver = Receiver::start().unwrap();
    let addr = receiver.http_addr();
    let body = format!("{METRIC}\n");
    receiver.faults().set_http_status(Some(500));
    let mut http = Http::connect(addr);
    assert_eq!(
        http.send("/report?f=wavefront", &[], body.as_bytes())
            .unwrap()
            .0,
        500
    );
    assert_eq!(
        http.send("/report?f=wavefront", &[], body.as_bytes())
            .unwrap()
            .0,
        500
    );
    assert_eq!(receiver.line_count(), 0);
    receiver.faults().set_http_status(None);
    assert_eq!(
        http.send("/report?f=wavefront", &[], body.as_bytes())
            .unwrap()
            .0,
        202
    );
    assert_eq!(receiver.metrics().len(), 1);

    receiver.faults().set_http_status_for(2, 406);
    let statuses: Vec<u16> = (0..3)
        .map(|_| {
            http.send("/report?f=wavefront", &[], body.as_bytes())
                .unwrap()
                .0
        })
        .collect();
    assert_eq!(statuses, [406, 406, 202]);
    let requests = receiver.http_requests();
    assert_eq!(
        requests
            .iter()
            .map(|r| (r.status_sent, r.lines))
            .collect::<Vec<_>>(),
        [(500, 0), (500, 0), (202, 1), (406, 0), (406, 0), (202, 1)]
    );
    assert_eq!(receiver.metrics().len(), 2);
}

#[test]
fn delay_slows_answers() {
    let receiver = Receiver::start().unwrap();
    let body = format!("{METRIC}\n");
    receiver.faults().set_delay(Duration::from_millis(300));
    let started = Instant::now();
    assert_eq!(
        post(receiver.http_addr(), "/report", &[], body.as_bytes()),
        202
    );
    assert!(started.elapsed() >= Duration::from_millis(300));
    receiver.faults().set_delay(Duration::ZERO);
    let started = Instant::now();
    assert_eq!(
        post(receiver.http_addr(), "/report", &[], body.as_bytes()),
        202
    );
    assert!(started.elapsed() < Duration::from_millis(300));
    assert_eq!(receiver.metrics().len(), 2);
}

#[test]
fn stop_then_restart_on_the_same_ports() {
    let receiver = Receiver::start().unwrap();
    let addrs = [
        receiver.metrics_addr(),
        receiver.tracing_addr(),
        receiver.http_addr(),
    ];
    let mut open = connect(addrs[0]);
    open.write_all(format!("{METRIC}\n").as_bytes()).unwrap();
    assert!(receiver.wait_for_lines(1, WAIT));
    receiver.faults().set_stall(true);
    let started = Instant::now();
    receiver.stop();
    assert!(started.elapsed() < Duration::from_secs(2), "stop is prompt");
    assert!(closed_by_peer(&mut open), "stop closes open connections");
    for addr in addrs {
        let err = TcpStream::connect_timeout(&addr, WAIT).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::ConnectionRefused, "{addr}");
    }

    let receiver = Receiver::builder()
        .ports(addrs[0].port(), addrs[1].port(), addrs[2].port())
        .start()
        .unwrap();
    assert_eq!(
        [
            receiver.metrics_addr(),
            receiver.tracing_addr(),
            receiver.http_addr()
        ],
        addrs
    );
    assert!(receiver.received().is_empty());
    let mut sender = connect(addrs[1]);
    sender.write_all(format!("{SPAN}\n").as_bytes()).unwrap();
    assert!(receiver.wait_for_lines(1, WAIT));
    assert!(matches!(receiver.received()[0].parsed, Ok(Line::Span(_))));
}

#[test]
fn cursors_read_without_removing_and_skip_what_was_taken() {
    let receiver = Receiver::start().unwrap();
    let mut sender = connect(receiver.metrics_addr());
    sender
        .write_all(format!("{METRIC}\n{METRIC}\n").as_bytes())
        .unwrap();
    assert!(receiver.wait_for_lines(2, WAIT));
    let (lines, cursor) = receiver.received_since(0);
    assert_eq!((lines.len(), cursor), (2, 2));
    // Reading did not remove them; taking does, and cursors count on.
    assert_eq!(receiver.take_received().len(), 2);
    sender.write_all(b"bad\n").unwrap();
    assert!(receiver.wait_for_lines(1, WAIT));
    let (lines, cursor) = receiver.received_since(cursor);
    assert_eq!((lines.len(), lines[0].line.as_str(), cursor), (1, "bad", 3));
    // A cursor from before the take gets only what is left.
    assert_eq!(receiver.received_since(1).0.len(), 1);
    receiver.clear();
    assert_eq!(receiver.received_since(0), (Vec::new(), 3));

    // HTTP requests, likewise.
    assert_eq!(post(receiver.http_addr(), "/nowhere", &[], b""), 404);
    let (requests, cursor) = receiver.http_requests_since(0);
    assert_eq!(
        (requests.len(), requests[0].status_sent, cursor),
        (1, 404, 1)
    );
    assert_eq!(receiver.take_http_requests().len(), 1);
    assert_eq!(receiver.http_requests_since(0), (Vec::new(), 1));
}
