//! Colours for the theme editor.

pub mod color;
