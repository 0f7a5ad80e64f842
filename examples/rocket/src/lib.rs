//! The Shirts app of the Flask SDK's README, on rocket (its `main` serves
//! it; the conformance suite runs it too).
//!
//! ```text
//! GET|HEAD /style/<id>/make     200 "Shirts {id} made."   (make_shirts)
//! GET /bad-gateway              502                       (bad_gateway)
//! GET /orders/<order_id>/crash  the handler panics: 500   (crash)
//! anything else                 404
//! ```

use rocket::http::Status;
use rocket::{get, routes, Build, Config, Rocket};
use wavefront_core::reporter::Reporter;
use wavefront_rocket::WavefrontFairing;

#[get("/style/<id>/make")]
fn make_shirts(id: &str) -> String {
    format!("Shirts {id} made.")
}

#[get("/bad-gateway")]
fn bad_gateway() -> Status {
    Status::BadGateway
}

#[get("/orders/<order_id>/crash")]
fn crash(order_id: u64) -> &'static str {
    panic!("order {order_id} cannot be processed")
}

/// The app with `config`, instrumented through `reporter`.
pub fn rocket(config: Config, reporter: &Reporter) -> Rocket<Build> {
    rocket::custom(config)
        .mount(
            "/",
            wavefront_rocket::wrap(routes![make_shirts, bad_gateway, crash]),
        )
        .attach(WavefrontFairing::new(reporter))
}
