use crate::units::Unit;

pub fn to_celsius(value: f64, unit: Unit) -> f64 {
    match unit {
        Unit::Celsius => value,
        Unit::Fahrenheit => (value - 32.0) * 5.0 / 9.0,
    }
}

pub fn from_celsius(celsius: f64, unit: Unit) -> f64 {
    match unit {
        Unit::Celsius => celsius,
        Unit::Fahrenheit => celsius * 9.0 / 5.0 + 32.0,
    }
}

pub fn convert(value: f64, from: Unit, to: Unit) -> f64 {
    from_celsius(to_celsius(value, from), to)
}

/// "21.5°C" for the display.
pub fn display(value: f64, unit: Unit) -> String {
    format!("{:.1}{}", value, unit.symbol())
}
