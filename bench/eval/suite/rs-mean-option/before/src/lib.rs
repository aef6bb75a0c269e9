//! Readings from the greenhouse sensors (integer milli-degrees).

pub mod stats;
