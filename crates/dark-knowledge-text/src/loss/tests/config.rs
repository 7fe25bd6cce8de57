//! Configuration: validation, names, serde.

use crate::Error;
use crate::loss::{HiddenLoss, TokenDivergence as D, TokenKdConfig};

fn error_of(config: TokenKdConfig) -> (String, String) {
    match config.init() {
        Err(e @ Error::InvalidValue { name, .. }) => (name.to_string(), e.to_string()),
        other => panic!("expected an invalid value for {config:?}, got {other:?}"),
    }
}

#[test]
fn invalid_settings_are_refused_naming_the_setting_and_the_range() {
    for t in [0.0, -1.0, f64::NAN, f64::INFINITY] {
        let (name, msg) = error_of(TokenKdConfig::new(D::ForwardKl).with_temperature(t));
        assert_eq!(name, "temperature");
        assert!(msg.contains("> 0"), "{msg}");
    }
    for beta in [1.5, -0.1, f64::NAN] {
        let (name, msg) = error_of(TokenKdConfig::new(D::Jsd { beta }));
        assert_eq!(name, "beta");
        assert!(
            msg.contains("[0, 1]") && msg.contains(&beta.to_string()),
            "{msg}"
        );
    }
    for lambda in [1.0, 1.5, -0.1, f64::NAN] {
        for d in [D::SkewKl { lambda }, D::SkewReverseKl { lambda }] {
            let (name, msg) = error_of(TokenKdConfig::new(d));
            assert_eq!(name, "lambda");
            assert!(msg.contains("[0, 1)"), "{msg}");
        }
    }
    for ok in [
        D::Jsd { beta: 0.0 },
        D::Jsd { beta: 1.0 },
        D::SkewKl { lambda: 0.0 },
        D::SkewReverseKl { lambda: 0.999 },
        D::TotalVariation,
    ] {
        let kd = TokenKdConfig::new(ok).with_temperature(0.5).init().unwrap();
        assert_eq!((kd.divergence(), kd.temperature()), (ok, 0.5));
    }
}

#[test]
fn names_are_short_and_distinct() {
    let names: Vec<&str> = [
        D::ForwardKl,
        D::ReverseKl,
        D::Jsd { beta: 0.5 },
        D::SkewKl { lambda: 0.1 },
        D::SkewReverseKl { lambda: 0.1 },
        D::TotalVariation,
    ]
    .iter()
    .map(|d| d.name())
    .collect();
    assert_eq!(
        names,
        [
            "forward_kl",
            "reverse_kl",
            "jsd",
            "skew_kl",
            "skew_reverse_kl",
            "tv"
        ]
    );
}

#[test]
fn the_json_shape_parses_round_trips_and_refuses_unknown_keys() {
    let config: TokenKdConfig =
        serde_json::from_str(r#"{"divergence":{"kind":"jsd","beta":0.5},"temperature":1.0}"#)
            .unwrap();
    assert_eq!(config, TokenKdConfig::new(D::Jsd { beta: 0.5 }));
    let config: TokenKdConfig =
        serde_json::from_str(r#"{"divergence":{"kind":"skew_reverse_kl","lambda":0.1}}"#).unwrap();
    assert_eq!(config.temperature, 1.0, "the temperature defaults to 1");
    assert_eq!(config.divergence, D::SkewReverseKl { lambda: 0.1 });
    for d in [
        D::ForwardKl,
        D::ReverseKl,
        D::SkewKl { lambda: 0.1 },
        D::TotalVariation,
    ] {
        let config = TokenKdConfig::new(d).with_temperature(2.0);
        let text = serde_json::to_string(&config).unwrap();
        assert_eq!(
            serde_json::from_str::<TokenKdConfig>(&text).unwrap(),
            config,
            "{text}"
        );
    }
    assert_eq!(
        serde_json::to_string(&D::TotalVariation).unwrap(),
        r#"{"kind":"total_variation"}"#
    );
    for bad in [
        r#"{"divergence":{"kind":"forward_kl"},"temp":2.0}"#,
        r#"{"divergence":{"kind":"jsd","beta":0.5,"gamma":1.0}}"#,
        r#"{"divergence":{"kind":"jsd"}}"#,
        r#"{"divergence":{"kind":"cross_entropy"}}"#,
        r#"{"temperature":1.0}"#,
    ] {
        let e = serde_json::from_str::<TokenKdConfig>(bad);
        assert!(e.is_err(), "{bad} was accepted: {e:?}");
    }
    assert_eq!(
        serde_json::from_str::<HiddenLoss>(r#""cosine""#).unwrap(),
        HiddenLoss::Cosine
    );
    assert_eq!(serde_json::to_string(&HiddenLoss::Mse).unwrap(), r#""mse""#);
}
