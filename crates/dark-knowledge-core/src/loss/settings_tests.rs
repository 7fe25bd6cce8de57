//! The settings checks every loss configuration shares: each invalid value refused with a
//! message naming it, unknown keys refused.

use super::*;
use crate::test_support::{assert_each_refused, assert_unknown_key_refused};

#[test]
fn init_rejects_each_invalid_setting_with_a_message_naming_it() {
    {
        let cases = [
            (DecoupledKdConfig::new(0.0, 1.0, 8.0), "temperature"),
            (DecoupledKdConfig::new(-1.0, 1.0, 8.0), "temperature"),
            (
                DecoupledKdConfig::new(f64::INFINITY, 1.0, 8.0),
                "temperature",
            ),
            (DecoupledKdConfig::new(4.0, -1.0, 8.0), "alpha"),
            (DecoupledKdConfig::new(4.0, f64::NAN, 8.0), "alpha"),
            (DecoupledKdConfig::new(4.0, 1.0, -8.0), "beta"),
            (DecoupledKdConfig::new(4.0, 1.0, f64::INFINITY), "beta"),
            (
                DecoupledKdConfig::new(4.0, 0.0, 0.0),
                "all loss weights are 0",
            ),
        ];
        assert_each_refused(cases, |c| c.init());
        assert!(DecoupledKdConfig::default().init().is_ok());
        assert!(DecoupledKdConfig::new(4.0, 0.0, 8.0).init().is_ok());
    }
    {
        let cases = [
            (SoftTargetLossConfig::new(0.0, 0.1, 0.9), "temperature"),
            (SoftTargetLossConfig::new(-2.0, 0.1, 0.9), "temperature"),
            (SoftTargetLossConfig::new(f64::NAN, 0.1, 0.9), "temperature"),
            (SoftTargetLossConfig::new(4.0, -0.1, 0.9), "ce_weight"),
            (SoftTargetLossConfig::new(4.0, 0.1, f64::NAN), "kd_weight"),
            (
                SoftTargetLossConfig::new(4.0, 0.1, 0.9).with_top_k(0),
                "top_k",
            ),
            (
                SoftTargetLossConfig::new(4.0, 0.0, 0.0),
                "all loss weights are 0",
            ),
        ];
        assert_each_refused(cases, |c| c.init());
        assert!(SoftTargetLossConfig::default().init().is_ok());
    }
    {
        let cases = [
            (DistConfig::new(0.0, 1.0, 1.0), "tau"),
            (DistConfig::new(-4.0, 1.0, 1.0), "tau"),
            (DistConfig::new(f64::NAN, 1.0, 1.0), "tau"),
            (DistConfig::new(1.0, -1.0, 1.0), "beta"),
            (DistConfig::new(1.0, f64::INFINITY, 1.0), "beta"),
            (DistConfig::new(1.0, 1.0, -0.5), "gamma"),
            (DistConfig::new(1.0, 1.0, f64::NAN), "gamma"),
            (DistConfig::new(1.0, 0.0, 0.0), "all loss weights are 0"),
        ];
        assert_each_refused(cases, |c| c.init());
        assert!(DistConfig::default().init().is_ok());
        assert!(DistConfig::new(4.0, 0.0, 2.0).init().is_ok());
    }
    {
        for bad in [0.0, -2.0, f64::NAN, f64::INFINITY] {
            let msg = LogitStandardizedKdConfig::new(bad)
                .init()
                .unwrap_err()
                .to_string();
            assert!(msg.contains("temperature"), "{bad}: {msg}");
        }
        assert!(LogitStandardizedKdConfig::default().init().is_ok());
    }
}

#[test]
fn unknown_config_keys_are_rejected() {
    assert_unknown_key_refused::<DecoupledKdConfig>(r#"{"temperature": 2.0, "gamma": 1}"#, "gamma");
    assert_unknown_key_refused::<SoftTargetLossConfig>(
        r#"{"temperature": 2.0, "alpha": 0.5}"#,
        "alpha",
    );
    assert_unknown_key_refused::<DistConfig>(r#"{"tau": 2.0, "temperature": 1}"#, "temperature");
    assert_unknown_key_refused::<LogitStandardizedKdConfig>(
        r#"{"temperature": 2.0, "kd_weight": 1}"#,
        "kd_weight",
    );
}
