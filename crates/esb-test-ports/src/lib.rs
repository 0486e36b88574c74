//! Ports for the servers a test starts as another process (an `esb up` box, a registry,
//! moto), which must be told their port before they bind it.
//!
//! The usual trick, binding port 0 and closing the socket, hands out a port of the
//! kernel's ephemeral range: until the server binds it, any process binding port 0 (a
//! box's agent, another test's client) may be given the same port, and the server then
//! fails with "Address already in use". CI lost a run that way. These ports are taken
//! below the ephemeral range instead, where the kernel never hands ports out, and each
//! is claimed by an `flock` on a file for as long as the test process lives, so test
//! processes running in parallel (nextest runs one per test) never pick the same one.
//! A port something still listens on (a box a finished test left running) is skipped.

use std::collections::hash_map::RandomState;
use std::fs::File;
use std::hash::BuildHasher;
use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::path::PathBuf;
use std::sync::Mutex;

/// Ports are chosen from here up to the start of the ephemeral range.
const LOWEST: u16 = 10_000;

/// The claims this process holds; their locks end with the process.
static HELD: Mutex<Vec<File>> = Mutex::new(Vec::new());

/// A free loopback address whose port nothing else will be given while this process
/// lives. Panics (this is test support) when no port is left.
pub fn reserve_addr() -> SocketAddr {
    SocketAddr::from((Ipv4Addr::LOCALHOST, reserve()))
}

/// A free port (see the crate doc), claimed for the life of this process.
pub fn reserve() -> u16 {
    let end = ephemeral_start();
    assert!(
        end > LOWEST + 1_000,
        "the ephemeral port range starts at {end}: too low to leave test ports below it"
    );
    let span = u64::from(end - LOWEST);
    let dir = std::env::temp_dir().join("esb-test-ports");
    std::fs::create_dir_all(&dir).expect("create the port claims directory");
    let start = RandomState::new().hash_one(std::process::id()) % span;
    for i in 0..span {
        let port = LOWEST + u16::try_from((start + i) % span).expect("below u16::MAX");
        if let Some(claim) = claim(dir.join(format!("{port}.lock")))
            && bindable(port)
        {
            HELD.lock().unwrap_or_else(|e| e.into_inner()).push(claim);
            return port;
        }
    }
    panic!("no free port between {LOWEST} and {end}");
}

/// The lock file, locked by this open file; `None` when another holds it.
fn claim(path: PathBuf) -> Option<File> {
    let file = File::options()
        .create(true)
        .write(true)
        .truncate(false)
        .open(&path)
        .unwrap_or_else(|e| panic!("open {}: {e}", path.display()));
    file.try_lock().ok().map(|()| file)
}

/// Nothing listens on the port, on any address (boxes' gateways bind 0.0.0.0).
fn bindable(port: u16) -> bool {
    TcpListener::bind((Ipv4Addr::UNSPECIFIED, port)).is_ok()
}

/// The first port the kernel hands out for port 0 (Linux's default when unreadable).
fn ephemeral_start() -> u16 {
    std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|range| range.split_whitespace().next()?.parse().ok())
        .unwrap_or(32_768)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reserved_ports_are_distinct_bindable_and_below_the_ephemeral_range() {
        let ports: Vec<u16> = (0..20).map(|_| reserve()).collect();
        let distinct: std::collections::BTreeSet<_> = ports.iter().collect();
        assert_eq!(distinct.len(), ports.len(), "{ports:?}");
        for port in ports {
            assert!((LOWEST..ephemeral_start()).contains(&port), "{port}");
            TcpListener::bind(("127.0.0.1", port)).expect("a reserved port binds");
        }
    }

    #[test]
    fn a_claimed_port_is_not_claimed_twice() {
        let port = reserve();
        let path = std::env::temp_dir()
            .join("esb-test-ports")
            .join(format!("{port}.lock"));
        assert!(claim(path).is_none(), "port {port} was claimed again");
    }
}
