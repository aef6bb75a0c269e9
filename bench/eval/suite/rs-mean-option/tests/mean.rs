use sensors::stats::{describe, mean, range};

#[test]
fn ordinary_mean() {
    assert_eq!(mean(&[1, 2, 3, 4]), Some(2.5));
    assert_eq!(mean(&[-5]), Some(-5.0));
}

#[test]
fn empty_is_none() {
    assert_eq!(mean(&[]), None);
}

#[test]
fn large_values_do_not_overflow() {
    let m = mean(&[i64::MAX, i64::MAX]).unwrap();
    assert!((m - i64::MAX as f64).abs() < 1e3);
}

#[test]
fn describe_both_cases() {
    assert_eq!(describe(&[1, 2]), "n=2 mean=1.50");
    assert_eq!(describe(&[]), "n=0 mean=-");
    assert_eq!(range(&[3, -1, 7]), Some((-1, 7)));
}
