//! Reads the runtime's stdout and stderr line by line on dedicated threads (a slow
//! stdout never stalls the Invoke or Runtime API), and lets an invocation wait until
//! everything the runtime wrote before answering has been attributed to it.

use std::fs::File;
use std::io::Read;
use std::os::fd::{AsRawFd, OwnedFd};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::invocation_log::{LogSink, Source};

/// One captured pipe. Bytes leave the pipe only while `consuming` is held, and
/// `consumed` counts them once their lines went to the sink, so `settle` can tell "all
/// written so far is attributed" without racing the reader.
struct Pipe {
    file: File,
    consuming: Mutex<()>,
    consumed: AtomicU64,
}

impl Pipe {
    fn pending_bytes(&self) -> usize {
        let mut n: libc::c_int = 0;
        // SAFETY: FIONREAD writes one c_int; the fd is owned by `self.file` and alive.
        let rc = unsafe { libc::ioctl(self.file.as_raw_fd(), libc::FIONREAD, &mut n) };
        if rc == 0 {
            usize::try_from(n).unwrap_or(0)
        } else {
            0
        }
    }
}

/// Handle on the capture of one runtime process.
#[derive(Clone)]
pub struct LogCapture {
    pipes: Vec<Arc<Pipe>>,
}

impl LogCapture {
    pub fn start(stdout: OwnedFd, stderr: OwnedFd, sink: Arc<LogSink>) -> Self {
        let pipes: Vec<Arc<Pipe>> = [stdout, stderr]
            .into_iter()
            .map(|fd| {
                Arc::new(Pipe {
                    file: File::from(fd),
                    consuming: Mutex::new(()),
                    consumed: AtomicU64::new(0),
                })
            })
            .collect();
        for (pipe, source) in pipes.iter().zip([Source::Stdout, Source::Stderr]) {
            let pipe = Arc::clone(pipe);
            let sink = Arc::clone(&sink);
            let spawned = std::thread::Builder::new()
                .name(format!(
                    "rie-{}",
                    if source == Source::Stdout {
                        "stdout"
                    } else {
                        "stderr"
                    }
                ))
                .spawn(move || read_lines(&pipe, source, &sink));
            if let Err(e) = spawned {
                tracing::error!("cannot start log capture thread: {e}");
            }
        }
        Self { pipes }
    }

    /// Waits until every byte already written to the pipes has been read and its
    /// lines attributed: what was in each pipe when we looked, not "until the pipes are
    /// empty", so a runtime that keeps writing cannot hold it up. Bounded by
    /// [`SETTLE_LIMIT`] for a reader starved of CPU.
    pub async fn settle(&self) {
        let pipes = self.pipes.clone();
        // Taking the lock is the only exact "what has been written so far" (a reader
        // holds it from read(2) until its lines are attributed); a blocking lock gets
        // it between two reads even of a runtime that never stops writing.
        let targets = tokio::task::spawn_blocking(move || {
            pipes
                .iter()
                .map(|p| {
                    let _guard = p.consuming.lock();
                    p.consumed.load(Ordering::Acquire) + p.pending_bytes() as u64
                })
                .collect::<Vec<u64>>()
        });
        let deadline = tokio::time::Instant::now() + SETTLE_LIMIT;
        let Ok(Ok(targets)) = tokio::time::timeout_at(deadline, targets).await else {
            return;
        };
        while self
            .pipes
            .iter()
            .zip(&targets)
            .any(|(p, t)| p.consumed.load(Ordering::Acquire) < *t)
            && tokio::time::Instant::now() < deadline
        {
            tokio::time::sleep(Duration::from_micros(200)).await;
        }
    }
}

/// Longest wait for a reader to catch up with what the runtime wrote before answering.
const SETTLE_LIMIT: Duration = Duration::from_secs(2);

/// Longest line kept as one record; longer ones are split.
pub const LONGEST_LINE: usize = 64 * 1024;

fn read_lines(pipe: &Pipe, source: Source, sink: &LogSink) {
    let fd = pipe.file.as_raw_fd();
    let mut partial: Vec<u8> = Vec::new();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let mut pfd = libc::pollfd {
            fd,
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one valid pollfd; waits without consuming anything.
        let rc = unsafe { libc::poll(&mut pfd, 1, -1) };
        if rc < 0 {
            if std::io::Error::last_os_error().kind() == std::io::ErrorKind::Interrupted {
                continue;
            }
            break;
        }
        let _guard = pipe.consuming.lock();
        let n = match (&pipe.file).read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(_) => break,
        };
        partial.extend_from_slice(&buf[..n]);
        let mut start = 0;
        while let Some(pos) = partial[start..].iter().position(|&b| b == b'\n') {
            let line = &partial[start..start + pos];
            sink.line(source, line.strip_suffix(b"\r").unwrap_or(line));
            start += pos + 1;
        }
        partial.drain(..start);
        // A line without an end is cut into records of at most LONGEST_LINE bytes (at
        // a character boundary), so memory stays bounded and each piece is storable.
        while partial.len() > LONGEST_LINE {
            let mut cut = LONGEST_LINE;
            while cut > LONGEST_LINE - 4 && partial[cut] & 0xC0 == 0x80 {
                cut -= 1;
            }
            sink.line(source, &partial[..cut]);
            partial.drain(..cut);
        }
        // These bytes are attributed (a line still without its end waits in `partial`,
        // to be attributed whole).
        pipe.consumed.fetch_add(n as u64, Ordering::Release);
    }
    if !partial.is_empty() {
        sink.line(source, &partial);
    }
}
