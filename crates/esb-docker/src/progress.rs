//! What the user sees while images build: one live line per function on a terminal,
//! plain lines (one per state change) when stderr is a log or a pipe, nothing in tests
//! that ask for quiet.

use std::io::IsTerminal;
use std::time::{Duration, Instant};

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

#[derive(Debug, Clone)]
pub struct Progress {
    mode: Mode,
}

#[derive(Debug, Clone)]
enum Mode {
    Bars(MultiProgress),
    Lines,
    Quiet,
}

impl Progress {
    /// Live lines when stderr is a terminal, plain lines otherwise.
    pub fn stderr() -> Self {
        if std::io::stderr().is_terminal() {
            Self {
                mode: Mode::Bars(MultiProgress::with_draw_target(ProgressDrawTarget::stderr())),
            }
        } else {
            Self::lines()
        }
    }

    /// One stderr line per state change.
    pub fn lines() -> Self {
        Self { mode: Mode::Lines }
    }

    pub fn quiet() -> Self {
        Self { mode: Mode::Quiet }
    }

    /// A line for one piece of work (a function, a base image).
    pub fn task(&self, name: &str) -> Task {
        let bar = match &self.mode {
            Mode::Bars(multi) => {
                let bar = multi.add(ProgressBar::new_spinner());
                let style =
                    ProgressStyle::with_template("{spinner:.cyan} {prefix:.bold} {wide_msg}")
                        .unwrap_or_else(|_| ProgressStyle::default_spinner());
                bar.set_style(style);
                bar.set_prefix(name.to_string());
                bar.enable_steady_tick(Duration::from_millis(120));
                Some(bar)
            }
            _ => None,
        };
        Task {
            name: name.to_string(),
            bar,
            lines: matches!(self.mode, Mode::Lines),
            started: Instant::now(),
        }
    }
}

/// One function's (or base image's) line.
#[derive(Debug)]
pub struct Task {
    name: String,
    bar: Option<ProgressBar>,
    lines: bool,
    started: Instant,
}

impl Task {
    /// A new stage ("building", "installing requirements.txt").
    pub fn step(&self, msg: &str) {
        if let Some(bar) = &self.bar {
            bar.set_message(msg.to_string());
        } else if self.lines {
            eprintln!("esb: {}: {msg}", self.name);
        }
    }

    /// Fine-grained output (Docker's build steps): on the live line only.
    pub fn detail(&self, msg: &str) {
        tracing::debug!("{}: {msg}", self.name);
        if let Some(bar) = &self.bar {
            bar.set_message(msg.to_string());
        }
    }

    /// The final state of the line.
    pub fn finish(&self, msg: &str) {
        self.end("✓", msg);
    }

    pub fn fail(&self, msg: &str) {
        self.end("✗", msg);
    }

    fn end(&self, mark: &str, msg: &str) {
        if let Some(bar) = &self.bar {
            bar.set_style(
                ProgressStyle::with_template("{prefix:.bold} {wide_msg}")
                    .unwrap_or_else(|_| ProgressStyle::default_spinner()),
            );
            bar.finish_with_message(format!("{mark} {msg}"));
        } else if self.lines {
            eprintln!("esb: {}: {msg}", self.name);
        }
    }

    pub fn elapsed(&self) -> Duration {
        self.started.elapsed()
    }
}
