//! The `wavefront-receiver` command as a user runs it: it prints each line,
//! and with `--ui-port` serves the viewer of the same lines.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const BINARY: &str = env!("CARGO_BIN_EXE_wavefront-receiver");

/// Kills the receiver when the test ends, passed or not.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn get(addr: &str, path: &str) -> String {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    write!(stream, "GET {path} HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    response
}

#[test]
fn with_ui_port_it_prints_and_serves_the_page() {
    let child = Command::new(BINARY)
        .args([
            "--metrics-port",
            "0",
            "--tracing-port",
            "0",
            "--http-port",
            "0",
        ])
        .args(["--ui-port", "0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut running = Running(child);
    let mut stderr = BufReader::new(running.0.stderr.take().unwrap());
    let mut listening = String::new();
    let mut viewer = String::new();
    stderr.read_line(&mut listening).unwrap();
    stderr.read_line(&mut viewer).unwrap();
    let metrics = listening
        .split_whitespace()
        .nth(2)
        .unwrap_or_else(|| panic!("{listening}"));
    let ui = viewer
        .trim()
        .strip_prefix("viewer: http://")
        .and_then(|v| v.strip_suffix('/'))
        .unwrap_or_else(|| panic!("{viewer}"));

    TcpStream::connect(metrics)
        .unwrap()
        .write_all(b"\"cpu.load\" 0.5 source=\"h\"\nnot a metric\n")
        .unwrap();
    let mut stdout = BufReader::new(running.0.stdout.take().unwrap());
    let mut printed = String::new();
    for _ in 0..2 {
        stdout.read_line(&mut printed).unwrap();
    }
    assert!(
        printed.starts_with("ok  [metrics-tcp] \"cpu.load\""),
        "{printed}"
    );
    assert!(printed.contains("BAD syntax: "), "{printed}");

    // The viewer got the lines the command printed (and took).
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let problems = get(ui, "/api/problems");
        if problems.contains("\"line\":\"not a metric\"") {
            break;
        }
        assert!(Instant::now() < deadline, "{problems}");
        std::thread::sleep(Duration::from_millis(50));
    }
    let page = get(ui, "/");
    assert!(page.starts_with("HTTP/1.1 200 OK"), "{page}");
    assert!(get(ui, "/api/summary").contains("\"exposed\":false"));
}

#[test]
fn bad_ui_arguments_exit_2() {
    for args in [
        &["--ui-bind", "127.0.0.1"][..],
        &["--ui-port", "0", "--ui-bind", "localhost"],
        &["--ui-port", "eighty"],
        &["--ui-port"],
    ] {
        let output = Command::new(BINARY).args(args).output().unwrap();
        assert_eq!(output.status.code(), Some(2), "{args:?}");
        assert!(
            String::from_utf8_lossy(&output.stderr).contains("usage:")
                || String::from_utf8_lossy(&output.stderr).contains("--ui-"),
            "{args:?}"
        );
    }
}
