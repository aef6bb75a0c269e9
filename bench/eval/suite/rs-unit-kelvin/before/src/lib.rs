//! Temperature units and conversions for the weather station.

pub mod convert;
pub mod units;
