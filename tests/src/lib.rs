//! test harness (being written)
