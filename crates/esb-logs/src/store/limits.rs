//! What the store keeps and what one query may cost: how long records are kept and how
//! much space they may take ([`Retention`]), and the most rows a query looks at and
//! returns.

use std::time::Duration;

/// How long records are kept, and how much space they may take.
#[derive(Debug, Clone, Copy)]
pub struct Retention {
    pub max_age: Duration,
    pub max_bytes: u64,
}

impl Default for Retention {
    /// VictoriaLogs keeps 7 days by default; 1 GiB suits an edge box.
    fn default() -> Self {
        Self {
            max_age: Duration::from_secs(7 * 24 * 3600),
            max_bytes: 1 << 30,
        }
    }
}

/// Most rows a query looks at (a query without a limit is cut here, as a safety net).
pub const MAX_SCANNED: usize = 5_000_000;
/// Most records a query returns without `| limit`.
pub const DEFAULT_LIMIT: usize = 10_000;
