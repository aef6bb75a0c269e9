use thermo::convert::{convert, display};
use thermo::units::Unit;

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-9
}

#[test]
fn kelvin_parses_and_shows() {
    assert_eq!(Unit::parse(" K "), Some(Unit::Kelvin));
    assert_eq!(Unit::parse("kelvin"), Some(Unit::Kelvin));
    assert_eq!(Unit::Kelvin.symbol(), "K");
    assert_eq!(display(300.0, Unit::Kelvin), "300.0K");
}

#[test]
fn kelvin_conversions() {
    assert!(close(convert(0.0, Unit::Celsius, Unit::Kelvin), 273.15));
    assert!(close(convert(273.15, Unit::Kelvin, Unit::Celsius), 0.0));
    assert!(close(convert(373.15, Unit::Kelvin, Unit::Fahrenheit), 212.0));
    assert!(close(convert(32.0, Unit::Fahrenheit, Unit::Kelvin), 273.15));
}

#[test]
fn old_units_unchanged() {
    assert!(close(convert(100.0, Unit::Celsius, Unit::Fahrenheit), 212.0));
    assert_eq!(Unit::parse("x"), None);
}
