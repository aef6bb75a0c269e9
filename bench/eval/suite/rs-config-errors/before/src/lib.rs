//! The service's `key = value` configuration file.

pub mod config;
