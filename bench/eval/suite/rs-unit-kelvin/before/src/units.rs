#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    Celsius,
    Fahrenheit,
}

impl Unit {
    pub fn symbol(self) -> &'static str {
        match self {
            Unit::Celsius => "°C",
            Unit::Fahrenheit => "°F",
        }
    }

    /// A unit from what a user types: "c", "Celsius", "F"...
    pub fn parse(text: &str) -> Option<Unit> {
        match text.trim().to_ascii_lowercase().as_str() {
            "c" | "celsius" => Some(Unit::Celsius),
            "f" | "fahrenheit" => Some(Unit::Fahrenheit),
            _ => None,
        }
    }
}
