//! A leaderboard kept sorted as scores arrive.

pub mod sorted;
