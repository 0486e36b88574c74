//! `--quiet`: the box's informational lines (its banner, status notes such as
//! "reloaded in") are left out; warnings and errors always show.

use std::sync::atomic::{AtomicBool, Ordering};

static QUIET: AtomicBool = AtomicBool::new(false);

pub fn set(quiet: bool) {
    QUIET.store(quiet, Ordering::Relaxed);
}

pub fn is_set() -> bool {
    QUIET.load(Ordering::Relaxed)
}

/// `println!` unless `--quiet`.
macro_rules! say {
    ($($arg:tt)*) => {
        if !$crate::quiet::is_set() {
            println!($($arg)*);
        }
    };
}

/// `eprintln!` unless `--quiet` (status notes that go with the log lines on stderr).
macro_rules! note {
    ($($arg:tt)*) => {
        if !$crate::quiet::is_set() {
            eprintln!($($arg)*);
        }
    };
}

pub(crate) use {note, say};
