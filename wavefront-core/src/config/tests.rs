use super::*;

fn from(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
    Config::from_vars(|name| {
        vars.iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| (*v).to_owned())
    })
}

#[test]
fn unset_means_console() {
    assert_eq!(from(&[]).unwrap().destination(), &Destination::Console);
    assert_eq!(
        from(&[("WAVEFRONT_URL", "  ")]).unwrap().destination(),
        &Destination::Console
    );
}

#[test]
fn proxy_urls() {
    let c = from(&[
        ("WAVEFRONT_URL", "proxy://wf:2878"),
        ("WAVEFRONT_TRACES_PORT", "30001"),
        ("WAVEFRONT_HISTOGRAMS_PORT", "40000"),
    ])
    .unwrap();
    assert_eq!(
        c.destination(),
        &Destination::Proxy {
            host: "wf".into(),
            metrics_port: 2878,
            tracing_port: 30001,
            histograms_port: Some(40000)
        }
    );
    let c = from(&[("WAVEFRONT_URL", "http://[::1]")]).unwrap();
    assert!(
        matches!(c.destination(), Destination::Proxy { host, metrics_port: 2878, .. } if host == "::1")
    );
}

#[test]
fn direct_urls_carry_the_token_apart() {
    let c = from(&[("WAVEFRONT_URL", "https://s3cr3t@example.wavefront.com")]).unwrap();
    assert_eq!(
        c.destination(),
        &Destination::Direct {
            url: "https://example.wavefront.com".into(),
            token: "s3cr3t".into()
        }
    );
    assert!(!format!("{c:?}").contains("s3cr3t"));
    assert_eq!(
        from(&[("WAVEFRONT_URL", "https://example.wavefront.com")]),
        Err(ConfigError::MissingToken)
    );
}

#[test]
fn a_token_in_clear_text_is_refused_without_showing_it() {
    for url in ["http://s3cr3t@proxy:2878", "proxy://s3cr3t@proxy:2878"] {
        let err = from(&[("WAVEFRONT_URL", url)]).unwrap_err();
        assert!(
            matches!(err, ConfigError::TokenInClearText { .. }),
            "{err:?}"
        );
        assert!(!err.to_string().contains("s3cr3t"), "{err}");
    }
}

#[test]
fn bad_values_name_the_variable() {
    let cases: &[(&[(&str, &str)], &str)] = &[
        (&[("WAVEFRONT_URL", "proxy://wf:99999")], "port"),
        (&[("WAVEFRONT_URL", "wf:2878")], "expected"),
        (&[("WAVEFRONT_URL", "ftp://wf")], "scheme"),
        (
            &[
                ("WAVEFRONT_URL", "proxy://wf"),
                ("WAVEFRONT_TRACES_PORT", "x"),
            ],
            "WAVEFRONT_TRACES_PORT",
        ),
        (
            &[("WAVEFRONT_CUSTOM_TAGS", "a=1,b")],
            "WAVEFRONT_CUSTOM_TAGS",
        ),
        (
            &[("WAVEFRONT_REPORT_INTERVAL_SECS", "0")],
            "WAVEFRONT_REPORT_INTERVAL_SECS",
        ),
        (
            &[("WAVEFRONT_REPORT_INTERVAL_SECS", "1.5")],
            "WAVEFRONT_REPORT_INTERVAL_SECS",
        ),
    ];
    for (vars, needle) in cases {
        let err = from(vars).unwrap_err();
        assert!(err.to_string().contains(needle), "{vars:?}: {err}");
    }
}

#[test]
fn labels_fall_back_to_the_application_defaults() {
    let defaults = ApplicationTags::builder("Ordering", "styling")
        .cluster("us-west-1")
        .custom_tag("env", "Staging")
        .build()
        .unwrap();
    let c = from(&[
        ("WAVEFRONT_SERVICE", "billing"),
        ("WAVEFRONT_SOURCE", "pod-7"),
        ("WAVEFRONT_CUSTOM_TAGS", "env=prod, team = shop"),
        ("WAVEFRONT_REPORT_INTERVAL_SECS", "5"),
    ])
    .unwrap();
    let tags = c.application_tags(&defaults).unwrap();
    assert_eq!(
        (
            tags.application(),
            tags.service(),
            tags.cluster(),
            tags.shard()
        ),
        ("Ordering", "billing", "us-west-1", "none")
    );
    assert_eq!(
        tags.custom_tags(),
        [
            ("env".to_owned(), "prod".to_owned()),
            ("team".to_owned(), "shop".to_owned())
        ]
    );
    assert_eq!(
        (c.source_name(), c.interval()),
        ("pod-7", Duration::from_secs(5))
    );
}
