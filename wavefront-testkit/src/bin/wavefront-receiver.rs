//! Prints what an application sends to a Wavefront proxy or direct ingestion,
//! and optionally shows it on a live local page.
//!
//! ```text
//! wavefront-receiver [--metrics-port 2878] [--tracing-port 30000] [--http-port 8080] [--token T]
//!                    [--ui-port PORT [--ui-bind 127.0.0.1]]
//! ```
//!
//! Listens on 127.0.0.1 only and prints each line as it arrives, prefixed by
//! `ok  ` or `BAD <reason>  ` and its channel, and each HTTP request that was
//! not accepted. With `--ui-port`, also serves the viewer
//! (`wavefront_testkit::viewer`) at `http://127.0.0.1:PORT/`: routes, traces,
//! rejected lines and SDK diagnostics, live. It binds the loopback address
//! unless `--ui-bind` names another; the page then says it is open to anyone
//! who can reach it. Runs until killed (Ctrl-C).

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::process::ExitCode;
use std::thread;
use std::time::Duration;

use wavefront_testkit::receiver::Receiver;
use wavefront_testkit::viewer::Viewer;

const USAGE: &str = "usage: wavefront-receiver [--metrics-port 2878] [--tracing-port 30000] \
                     [--http-port 8080] [--token T] [--ui-port PORT [--ui-bind 127.0.0.1]]";

#[derive(Default)]
struct Args {
    ports: [u16; 3],
    token: Option<String>,
    ui_port: Option<u16>,
    ui_bind: Option<IpAddr>,
}

/// The arguments, or the exit code to stop with.
fn parse_args() -> Result<Args, ExitCode> {
    let mut parsed = Args {
        ports: [2878, 30000, 8080],
        ..Args::default()
    };
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        if matches!(flag.as_str(), "-h" | "--help") {
            println!("{USAGE}");
            return Err(ExitCode::SUCCESS);
        }
        let known = [
            "--metrics-port",
            "--tracing-port",
            "--http-port",
            "--token",
            "--ui-port",
            "--ui-bind",
        ];
        if !known.contains(&flag.as_str()) {
            eprintln!("unknown argument {flag:?}\n{USAGE}");
            return Err(ExitCode::from(2));
        }
        let Some(value) = args.next() else {
            eprintln!("{flag} needs a value\n{USAGE}");
            return Err(ExitCode::from(2));
        };
        let port = || {
            value.parse::<u16>().map_err(|_| {
                eprintln!("{flag}: bad port {value:?}");
                ExitCode::from(2)
            })
        };
        match flag.as_str() {
            "--metrics-port" => parsed.ports[0] = port()?,
            "--tracing-port" => parsed.ports[1] = port()?,
            "--http-port" => parsed.ports[2] = port()?,
            "--ui-port" => parsed.ui_port = Some(port()?),
            "--ui-bind" => match value.parse() {
                Ok(ip) => parsed.ui_bind = Some(ip),
                Err(_) => {
                    eprintln!("--ui-bind: bad IP address {value:?}");
                    return Err(ExitCode::from(2));
                }
            },
            _ => parsed.token = Some(value),
        }
    }
    if parsed.ui_bind.is_some() && parsed.ui_port.is_none() {
        eprintln!("--ui-bind needs --ui-port\n{USAGE}");
        return Err(ExitCode::from(2));
    }
    Ok(parsed)
}

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(args) => args,
        Err(code) => return code,
    };
    let [metrics, tracing, http] = args.ports;
    let mut builder = Receiver::builder().ports(metrics, tracing, http);
    if let Some(token) = args.token {
        builder = builder.token(token);
    }
    let receiver = match builder.start() {
        Ok(receiver) => receiver,
        Err(e) => {
            eprintln!("cannot listen: {e}");
            return ExitCode::FAILURE;
        }
    };
    eprintln!(
        "listening: metrics {}  tracing {}  direct ingestion {}/report",
        receiver.metrics_addr(),
        receiver.tracing_addr(),
        receiver.http_url()
    );
    let viewer = match args.ui_port {
        None => None,
        Some(port) => {
            let ip = args.ui_bind.unwrap_or(IpAddr::V4(Ipv4Addr::LOCALHOST));
            match Viewer::start(SocketAddr::new(ip, port)) {
                Ok(viewer) => {
                    eprintln!("viewer: {}", viewer.url());
                    if !ip.is_loopback() {
                        eprintln!("viewer: not on loopback, and unauthenticated");
                    }
                    Some(viewer)
                }
                Err(e) => {
                    eprintln!("cannot serve the viewer on {ip}:{port}: {e}");
                    return ExitCode::FAILURE;
                }
            }
        }
    };
    loop {
        // Taken, not only read, so that a long run keeps bounded memory: the
        // viewer keeps its own bounded aggregates.
        let lines = receiver.take_received();
        for r in &lines {
            match &r.parsed {
                Ok(_) => println!("ok  [{}] {}", r.channel, r.line),
                Err(e) => println!("BAD {e}  [{}] {}", r.channel, r.line),
            }
        }
        let requests = receiver.take_http_requests();
        if let Some(viewer) = &viewer {
            viewer.ingest(&lines);
            viewer.ingest_http_requests(&requests);
        }
        for request in requests {
            if request.status_sent != 202 {
                println!(
                    "HTTP {} {} -> {}",
                    request.method, request.path_and_query, request.status_sent
                );
            }
        }
        thread::sleep(Duration::from_millis(50));
    }
}
