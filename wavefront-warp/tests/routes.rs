//! warp-specific routing: a method no route accepts (warp's 405) and a
//! rejected `or` branch are recorded as `unmatched`, never under a route.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::time::Duration;

use tower_layer::Layer;
use warp::Filter;
use wavefront_core::registry::Registry;
use wavefront_core::reporter::Reporter;
use wavefront_core::ApplicationTags;
use wavefront_testkit::receiver::Receiver;
use wavefront_warp::{route, WavefrontLayer};

fn status(addr: SocketAddr, method: &str, path: &str) -> u16 {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    response[9..12].parse().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn methods_no_route_accepts_and_rejected_branches_are_unmatched() {
    let receiver = Receiver::start().unwrap();
    let sender = receiver.proxy_sender();
    let tags = ApplicationTags::builder("Ordering", "styling")
        .build()
        .unwrap();
    let reporter = Arc::new(
        Reporter::builder(Registry::new(), sender, tags)
            .interval(Duration::from_secs(3600))
            .start(),
    );
    // The first branch matches the path, then rejects the method; the
    // second takes the request.
    let orders = warp::path!("orders")
        .and(warp::get())
        .and(route("/orders", "list_orders"))
        .map(|| "orders");
    let create = warp::path!("orders")
        .and(warp::post())
        .and(route("/orders", "create_order"))
        .map(|| "created");
    let service = WavefrontLayer::new(&reporter).layer(warp::service(orders.or(create)));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(wavefront_warp::serve(listener, service, async {
        stopped.await.unwrap_or(())
    }));
    let requests = tokio::task::spawn_blocking(move || {
        [
            status(addr, "GET", "/orders"),
            status(addr, "POST", "/orders"),
            status(addr, "DELETE", "/orders"),
            status(addr, "GET", "/nowhere"),
        ]
    });
    assert_eq!(requests.await.unwrap(), [200, 200, 405, 404]);
    let _ = stop.send(());
    server.await.unwrap().unwrap();
    let r = Arc::clone(&reporter);
    let report = tokio::task::spawn_blocking(move || r.shutdown(Duration::from_secs(10)))
        .await
        .unwrap();
    assert!(receiver.wait_for_lines(report.delivered as usize, Duration::from_secs(10)));
    let points = receiver.metrics();
    let last = |name: &str| {
        points
            .iter()
            .rev()
            .find(|p| p.name == name)
            .map(|p| (p.value, p.tag("warp.func").map(str::to_owned)))
    };
    assert_eq!(
        last("warp.response.orders.GET.200.cumulative.count"),
        Some((1.0, Some("list_orders".into())))
    );
    assert_eq!(
        last("warp.response.orders.POST.200.cumulative.count"),
        Some((1.0, Some("create_order".into())))
    );
    assert_eq!(
        last("warp.response.unmatched.DELETE.405.cumulative.count"),
        Some((1.0, Some("unmatched".into())))
    );
    assert_eq!(
        last("warp.response.unmatched.GET.404.cumulative.count"),
        Some((1.0, Some("unmatched".into())))
    );
    assert!(
        points
            .iter()
            .all(|p| !(p.name.starts_with("warp.response.orders.") && p.name.contains("DELETE"))),
        "a rejected branch recorded a request"
    );
    assert!(receiver.rejected().is_empty());
}
