//! Plain-text invoices.

pub mod invoice;
pub mod money;
