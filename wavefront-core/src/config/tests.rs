use super::*;
use crate::tags::ApplicationTagsError;

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
        Err(ConfigError::MissingToken {
            setting: UrlSetting::WavefrontUrl
        })
    );
    // The scheme is case-insensitive.
    let c = from(&[("WAVEFRONT_URL", "HTTPS://s3cr3t@example.wavefront.com")]).unwrap();
    assert!(matches!(c.destination(), Destination::Direct { token, .. } if token == "s3cr3t"));
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
        (&[("WAVEFRONT_URL", "wf:2878")], "scheme"),
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

/// A recognisable token, put in malformed URLs.
const TOKEN: &str = "Zq7Tok3nX9";

/// Whether `text` shows the token, in any case (URL parsers lower-case
/// what they take for a scheme or host).
fn shows_token(text: &str) -> bool {
    text.to_ascii_lowercase()
        .contains(&TOKEN.to_ascii_lowercase())
}

#[test]
fn malformed_urls_never_show_the_token() {
    let shapes = [
        "{T}",
        "{T}@host",
        "{T}@host:2878",
        "{T}@host/path",
        "https:/{T}@host",
        "https:{T}@host",
        "https//{T}@host",
        "proxy://{T}@host:2878",
        "proxy://{T}@host",
        "proxy://{T}@",
        "http://{T}@host",
        "http://{T}@127.0.0.1:2878",
        "HTTP://{T}@host",
        "https://{T}@",
        "https://{T}@:443",
        "https://{T}@/path",
        "https://user:{T}@host",
        "https://{T}:x@host",
        "https://:{T}@host",
        "https://{T}:@host",
        "https://{T}@host@other",
        "https://{T}@host:99999",
        "https://{T}@host:port",
        "https://{T}@[::1",
        "https://{T}@ho st",
        "{T}://host",
        "xyz:{T}@host://foo",
        "ftp://{T}@host",
    ];
    for shape in shapes {
        let url = shape.replace("{T}", TOKEN);
        let Err(e) = from(&[("WAVEFRONT_URL", url.as_str())]) else {
            panic!("{url} was accepted");
        };
        let (display, debug) = (format!("{e}"), format!("{e:?}"));
        assert!(!shows_token(&display), "{url}: {display}");
        assert!(!shows_token(&debug), "{url}: {debug}");
        assert!(display.contains("WAVEFRONT_URL"), "{url}: {display}");
    }
}

#[cfg(feature = "direct")]
#[test]
fn malformed_direct_sender_urls_never_show_the_token() {
    use crate::sender::DirectSender;
    let shapes = [
        "{T}",
        "{T}@host",
        "https:/{T}@host",
        "https://{T}@host",
        "https://{T}@",
        "https://user:{T}@host",
        "http://{T}@example.com",
        "http://{T}@127.0.0.1:1",
        "{T}://host",
        "ftp://{T}@host",
    ];
    for shape in shapes {
        let url = shape.replace("{T}", TOKEN);
        let builder = DirectSender::builder(url.as_str(), "another-token");
        assert!(!shows_token(&format!("{builder:?}")), "{url}: {builder:?}");
        let Err(e) = builder.build() else {
            panic!("{url} was accepted");
        };
        let (display, debug) = (format!("{e}"), format!("{e:?}"));
        assert!(!shows_token(&display), "{url}: {display}");
        assert!(!shows_token(&debug), "{url}: {debug}");
        assert!(!display.contains("another-token"), "{display}");
        assert!(display.contains("DirectSender"), "{url}: {display}");
    }
}

#[test]
fn report_intervals_out_of_range_are_typed_errors() {
    for value in [
        "0",
        "-1",
        "1e30",
        "1.5",
        "86401",
        "4294967296",
        "18446744073709551615",
        "18446744073709551616",
        "99999999999999999999999999999999",
        "NaN",
        "inf",
        "60s",
    ] {
        let err = from(&[("WAVEFRONT_REPORT_INTERVAL_SECS", value)]).unwrap_err();
        assert!(
            matches!(
                &err,
                ConfigError::InvalidVar {
                    name: "WAVEFRONT_REPORT_INTERVAL_SECS",
                    ..
                }
            ),
            "{value}: {err}"
        );
        assert_eq!(
            err.to_string(),
            format!(
                "WAVEFRONT_REPORT_INTERVAL_SECS={value:?} cannot be used: set it to a whole number of \
                 seconds from 1 to 86400 (one day)"
            )
        );
    }
    for (value, secs) in [("1", 1), (" 30 ", 30), ("86400", 86_400)] {
        let c = from(&[("WAVEFRONT_REPORT_INTERVAL_SECS", value)]).unwrap();
        assert_eq!(c.interval(), Duration::from_secs(secs));
    }
    assert_eq!(MAX_REPORT_INTERVAL, Duration::from_secs(86_400));
    let capped = Config::new().report_interval(Duration::MAX);
    assert_eq!(capped.interval(), MAX_REPORT_INTERVAL);
    let raised = Config::new().report_interval(Duration::from_millis(10));
    assert_eq!(raised.interval(), Duration::from_secs(1));
}

#[test]
fn every_error_is_one_sentence_in_display_and_debug() {
    let url_err = |vars: &[(&str, &str)]| from(vars).unwrap_err();
    let tags_err = |custom: &str| {
        from(&[("WAVEFRONT_CUSTOM_TAGS", custom)])
            .unwrap()
            .application_tags(&ApplicationTags::builder("app", "svc").build().unwrap())
            .unwrap_err()
    };
    let cases: Vec<(ConfigError, &str)> = vec![
        (
            url_err(&[("WAVEFRONT_URL", "http://s3cr3t@example.com")]),
            "WAVEFRONT_URL would send the API token in clear text to example.com: use \
             https://TOKEN@example.com for direct ingestion, or a proxy://host:port URL without a token",
        ),
        (
            url_err(&[("WAVEFRONT_URL", "proxy://s3cr3t@[::1]:2878")]),
            "WAVEFRONT_URL would send the API token in clear text to ::1: use https://TOKEN@[::1] for \
             direct ingestion, or a proxy://host:port URL without a token",
        ),
        (
            url_err(&[("WAVEFRONT_URL", "https://example.com")]),
            "WAVEFRONT_URL has no API token: set it to https://TOKEN@host for direct ingestion, or to \
             proxy://host:port for a Wavefront proxy",
        ),
        (
            url_err(&[("WAVEFRONT_URL", "proxy://wf:99999")]),
            "WAVEFRONT_URL=\"proxy://wf:99999\" cannot be used (the port is not a number from 1 to 65535): \
             set it to proxy://host:port for a Wavefront proxy, https://TOKEN@host for direct ingestion, or \
             otlp://host:port for OTLP",
        ),
        (
            url_err(&[("WAVEFRONT_URL", "s3cr3t@wf")]),
            "WAVEFRONT_URL=\"<redacted>@wf\" cannot be used (the scheme is not proxy://, http://, https:// \
             or otlp://): set it to proxy://host:port for a Wavefront proxy, https://TOKEN@host for direct \
             ingestion, or otlp://host:port for OTLP",
        ),
        (
            url_err(&[("WAVEFRONT_URL", "https://user:s3cr3t@wf")]),
            "WAVEFRONT_URL=\"https://<redacted>@wf\" cannot be used (only the API token goes before the @, \
             without a user name or password): set it to proxy://host:port for a Wavefront proxy, https://TOKEN@host for direct \
             ingestion, or otlp://host:port for OTLP",
        ),
        (
            url_err(&[
                ("WAVEFRONT_URL", "proxy://wf"),
                ("WAVEFRONT_TRACES_PORT", "x"),
            ]),
            "WAVEFRONT_TRACES_PORT=\"x\" cannot be used: set it to a port number from 1 to 65535",
        ),
        (
            url_err(&[("WAVEFRONT_CUSTOM_TAGS", "a=1,b")]),
            "WAVEFRONT_CUSTOM_TAGS=\"a=1,b\" cannot be used: \"b\" is not key=value; set it to key=value \
             pairs separated by commas, e.g. env=prod,team=shop",
        ),
        (
            tags_err("application=other"),
            "custom tag \"application\" would replace an application tag: remove it from \
             WAVEFRONT_CUSTOM_TAGS and set WAVEFRONT_APPLICATION, WAVEFRONT_SERVICE, WAVEFRONT_CLUSTER \
             or WAVEFRONT_SHARD instead",
        ),
        (
            ConfigError::Tags(ApplicationTagsError::BlankApplication),
            "the application name is blank: set WAVEFRONT_APPLICATION, or give the application tags a name",
        ),
        (
            ConfigError::Tags(ApplicationTagsError::BlankService),
            "the service name is blank: set WAVEFRONT_SERVICE, or give the application tags a service",
        ),
        (
            ConfigError::Tags(ApplicationTagsError::BlankCustomTag { key: "k".into() }),
            "custom tag \"k\" has a blank key or value: fix WAVEFRONT_CUSTOM_TAGS (key=value,key=value) or \
             the application's custom tags",
        ),
        (
            ConfigError::MissingToken {
                setting: UrlSetting::DirectSender,
            },
            "the DirectSender API token is empty: give the token as the second argument of \
             DirectSender::builder",
        ),
        (
            ConfigError::InvalidUrl {
                setting: UrlSetting::DirectSender,
                url: "ftp://h".into(),
                reason: "the scheme is not https://".into(),
            },
            "the DirectSender URL \"ftp://h\" cannot be used (the scheme is not https://): give \
             DirectSender::builder the instance as https://host and the API token as its second argument",
        ),
    ];
    for (err, sentence) in cases {
        assert_eq!(err.to_string(), sentence);
        assert_eq!(format!("{err:?}"), sentence, "Debug prints the sentence");
        assert_eq!(format!("{err:#?}"), sentence);
        assert!(!sentence.contains('\n') && !sentence.contains("s3cr3t"));
        // `main` returning `Box<dyn Error>` prints Debug.
        let boxed: Box<dyn std::error::Error> = Box::new(err);
        assert_eq!(format!("{boxed:?}"), sentence);
    }
}

#[cfg(feature = "direct")]
#[test]
fn direct_urls_from_the_environment_are_checked_like_the_builder() {
    // A host the URL parser refuses is reported against WAVEFRONT_URL, now
    // rather than when the sender starts.
    let err = from(&[("WAVEFRONT_URL", "https://s3cr3t@ho st")]).unwrap_err();
    assert!(
        matches!(
            &err,
            ConfigError::InvalidUrl {
                setting: UrlSetting::WavefrontUrl,
                ..
            }
        ),
        "{err}"
    );
    assert!(!err.to_string().contains("s3cr3t"));
}
