//! Reads the runtime's stdout and stderr line by line on dedicated threads (a slow
//! stdout never stalls the Invoke or Runtime API), and lets an invocation wait until
//! everything the runtime wrote before answering has been attributed to it.

use std::fs::File;
use std::io::Read;
use std::os::fd::{AsRawFd, OwnedFd};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::invocation_log::{LogSink, Source};

/// One captured pipe. Bytes leave the pipe only while `consuming` is held, so
/// `settle` can tell "nothing left to attribute" without racing the reader.
struct Pipe {
    file: File,
    consuming: Mutex<()>,
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

    /// Waits (briefly, bounded) until every byte already written to the pipes has
    /// been read and attributed.
    pub async fn settle(&self) {
        for _ in 0..100 {
            // try_lock: a reader busy writing a line counts as "not drained yet"; the
            // async caller never blocks on it.
            let drained = self.pipes.iter().all(|p| {
                p.consuming
                    .try_lock()
                    .map(|_guard| p.pending_bytes() == 0)
                    .unwrap_or(false)
            });
            if drained {
                return;
            }
            tokio::time::sleep(Duration::from_micros(200)).await;
        }
    }
}

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
    }
    if !partial.is_empty() {
        sink.line(source, &partial);
    }
}
