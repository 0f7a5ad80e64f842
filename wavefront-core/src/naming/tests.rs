use super::*;
use crate::wire;

fn app() -> ApplicationTags {
    ApplicationTags::builder("Ordering", "styling")
        .cluster("us-west-1")
        .shard("primary")
        .custom_tag("location", "Oregon")
        .build()
        .unwrap()
}

#[test]
fn route_templates_normalise_alike_across_frameworks() {
    let table = [
        // axum
        ("/style/{id}/make", "style.id.make"),
        ("/files/{*rest}", "files.rest"),
        (
            "/api/v1/{user_id}/orders/{order_id}",
            "api.v1.user_id.orders.order_id",
        ),
        // rocket
        ("/style/<id>/make", "style.id.make"),
        ("/files/<rest..>", "files.rest"),
        ("/search?<q>", "search"),
        // Flask
        ("/style/<path:id>/make", "style.path:id.make"),
        ("/orders/<int:order_id>/crash", "orders.int:order_id.crash"),
        // plain paths and edge cases
        ("/bad-gateway", "bad_gateway"),
        ("/", ROOT_ROUTE),
        ("", ROOT_ROUTE),
        ("/{}", ROOT_ROUTE),
        ("//a//b/", "a.b"),
        ("/v1.2/items", "v1.2.items"),
        ("/日本/{名前}", "日本.名前"),
    ];
    for (template, want) in table {
        assert_eq!(RouteTemplate::new(template).as_str(), want, "{template}");
    }
}

#[test]
fn names_sanitise_as_the_sender_would() {
    let route = RouteTemplate::new("/style/<path:id>/make");
    let endpoint = Endpoint {
        route: &route,
        method: "GET",
        func: "make_shirts",
    };
    let series = Naming::new("flask").response(&app(), &endpoint, 200, Level::Source);
    let mut line = String::new();
    wire::write_metric(&mut line, &series.name, 4.0, None, "host-1", &series.tags).unwrap();
    assert_eq!(
        line,
        "\"flask.response.style.path-id.make.GET.200.cumulative.count\" 4.0 source=\"host-1\" \
         \"application\"=\"Ordering\" \"cluster\"=\"us-west-1\" \"service\"=\"styling\" \
         \"shard\"=\"primary\" \"flask.func\"=\"make_shirts\"\n"
    );
}

fn keys(series: &Series) -> Vec<&str> {
    series.tags.iter().map(|(k, _)| k.as_str()).collect()
}

#[test]
fn every_series_of_the_seed_tables() {
    let app = app();
    for prefix in ["axum", "warp", "rocket", "my_server"] {
        let naming = Naming::new(prefix);
        let func = format!("{prefix}.func");
        let route = RouteTemplate::new("/style/{id}/make");
        let e = Endpoint {
            route: &route,
            method: "GET",
            func: "make_shirts",
        };
        let p = prefix;

        let s = naming.request_inflight(&app, &e);
        assert_eq!(
            s.name,
            format!("{p}.request.style.id.make.GET.inflight.value")
        );
        assert_eq!(
            keys(&s),
            ["application", "cluster", "service", "shard", &func]
        );

        let s = naming.total_inflight(&app);
        assert_eq!(s.name, format!("{p}.total_requests.inflight.value"));
        assert_eq!(keys(&s), ["application", "cluster", "service", "shard"]);

        let s = naming.response(&app, &e, 200, Level::Source);
        assert_eq!(
            s.name,
            format!("{p}.response.style.id.make.GET.200.cumulative.count")
        );
        assert_eq!(
            keys(&s),
            ["application", "cluster", "service", "shard", &func]
        );

        let levels = [
            (
                Level::Shard,
                "shard",
                vec!["application", "cluster", "service", "shard"],
            ),
            (
                Level::Service,
                "service",
                vec!["application", "cluster", "service"],
            ),
            (Level::Cluster, "cluster", vec!["application", "cluster"]),
            (Level::Application, "application", vec!["application"]),
        ];
        for (level, word, mut want) in levels {
            let s = naming.response(&app, &e, 200, level);
            assert_eq!(
                s.name,
                format!("{p}.response.style.id.make.GET.200.aggregated_per_{word}.count")
            );
            let mut with_func = want.clone();
            with_func.extend([func.as_str(), "source"]);
            assert_eq!(keys(&s), with_func);
            assert_eq!(s.tags.last().unwrap().1, WAVEFRONT_PROVIDED);

            want.push("source");
            for (series, what) in [
                (naming.completed(&app, level), "completed"),
                (naming.errors(&app, level), "errors"),
            ] {
                assert_eq!(
                    series.name,
                    format!("{p}.response.{what}.aggregated_per_{word}.count")
                );
                assert_eq!(keys(&series), want);
            }
        }
        for (series, what) in [
            (naming.completed(&app, Level::Source), "completed"),
            (naming.errors(&app, Level::Source), "errors"),
        ] {
            assert_eq!(
                series.name,
                format!("{p}.response.{what}.aggregated_per_source.count")
            );
            assert_eq!(
                keys(&series),
                ["application", "cluster", "service", "shard"]
            );
        }

        let s = naming.latency(&app, &e, 502);
        assert_eq!(
            s.name,
            format!("{p}.response.style.id.make.summary.GET.502.latency")
        );
        assert_eq!(
            keys(&s),
            ["application", "cluster", "service", "shard", &func]
        );
        let s = naming.cpu_ns(&app, &e, 502);
        assert_eq!(
            s.name,
            format!("{p}.response.style.id.make.summary.GET.502.cpu_ns")
        );
    }
}

#[test]
fn unset_cluster_and_shard_are_none_and_custom_tags_stay_off_metrics() {
    let app = ApplicationTags::builder("Ordering", "styling")
        .custom_tag("env", "Staging")
        .build()
        .unwrap();
    let s = Naming::new("axum").completed(&app, Level::Shard);
    assert_eq!(
        s.tags,
        [
            ("application", "Ordering"),
            ("cluster", "none"),
            ("service", "styling"),
            ("shard", "none"),
            ("source", WAVEFRONT_PROVIDED)
        ]
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
    );
}

#[test]
fn error_statuses() {
    assert!(!is_error_status(399));
    assert!(is_error_status(400) && is_error_status(404) && is_error_status(599));
    assert!(!is_error_status(600));
}
