//! Orders of the bakery's web shop.

pub mod order;
pub mod receipt;

pub use order::{order_total, Item};
