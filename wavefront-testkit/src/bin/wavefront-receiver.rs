//! Prints what an application sends to a Wavefront proxy or direct ingestion.
//!
//! ```text
//! wavefront-receiver [--metrics-port 2878] [--tracing-port 30000] [--http-port 8080] [--token T]
//! ```
//!
//! Listens on 127.0.0.1 only and prints each line as it arrives, prefixed by
//! `ok  ` or `BAD <reason>  ` and its channel, and each HTTP request that was
//! not accepted. Runs until killed (Ctrl-C).

use std::process::ExitCode;
use std::thread;
use std::time::Duration;

use wavefront_testkit::receiver::Receiver;

const USAGE: &str = "usage: wavefront-receiver [--metrics-port 2878] [--tracing-port 30000] \
                     [--http-port 8080] [--token T]";

fn main() -> ExitCode {
    let mut ports = [2878_u16, 30000, 8080];
    let mut token = None;
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let slot = match flag.as_str() {
            "--metrics-port" => Some(0),
            "--tracing-port" => Some(1),
            "--http-port" => Some(2),
            "--token" => None,
            "-h" | "--help" => {
                println!("{USAGE}");
                return ExitCode::SUCCESS;
            }
            _ => {
                eprintln!("unknown argument {flag:?}\n{USAGE}");
                return ExitCode::from(2);
            }
        };
        let Some(value) = args.next() else {
            eprintln!("{flag} needs a value\n{USAGE}");
            return ExitCode::from(2);
        };
        match slot {
            None => token = Some(value),
            Some(i) => match value.parse() {
                Ok(port) => ports[i] = port,
                Err(_) => {
                    eprintln!("{flag}: bad port {value:?}");
                    return ExitCode::from(2);
                }
            },
        }
    }

    let mut builder = Receiver::builder().ports(ports[0], ports[1], ports[2]);
    if let Some(token) = token {
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
    loop {
        for r in receiver.take_received() {
            match &r.parsed {
                Ok(_) => println!("ok  [{}] {}", r.channel, r.line),
                Err(e) => println!("BAD {e}  [{}] {}", r.channel, r.line),
            }
        }
        for request in receiver.take_http_requests() {
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
