//! Word statistics for the search index's stop-word list.

pub mod text;
