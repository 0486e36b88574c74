//! `esb` is the entrypoint of every worker, so it must run inside any Linux image,
//! whatever its libc: it is linked statically, and it serves a function from an empty
//! root filesystem holding nothing but itself and the function's bootstrap.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::json;

use crate::support;

/// True when the ELF file asks for a dynamic loader (has a PT_INTERP segment).
fn has_interpreter(path: &Path) -> bool {
    let elf = std::fs::read(path).expect("read binary");
    assert_eq!(&elf[..4], b"\x7fELF", "an ELF file");
    assert_eq!(elf[4], 2, "64-bit");
    let u64_at = |o: usize| u64::from_le_bytes(elf[o..o + 8].try_into().expect("8 bytes")) as usize;
    let u16_at = |o: usize| u16::from_le_bytes(elf[o..o + 2].try_into().expect("2 bytes")) as usize;
    let (phoff, phentsize, phnum) = (u64_at(0x20), u16_at(0x36), u16_at(0x38));
    (0..phnum).any(|i| {
        let off = phoff + i * phentsize;
        u32::from_le_bytes(elf[off..off + 4].try_into().expect("4 bytes")) == 3 // PT_INTERP
    })
}

#[test]
fn esb_needs_no_dynamic_loader() {
    assert!(
        !has_interpreter(&support::esb_bin()),
        "esb must be statically linked"
    );
}

#[test]
fn esb_rie_serves_a_function_from_an_empty_root_filesystem() {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        panic!("this test needs root (chroot); CI and scripts/test.sh run as root");
    }
    let root = std::env::temp_dir().join(format!("esb-empty-root-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    std::fs::create_dir_all(root.join("dev")).expect("mkdir");
    std::fs::copy(support::esb_bin(), root.join("esb")).expect("copy esb");
    std::fs::copy(support::rust_bootstrap(), root.join("bootstrap")).expect("copy bootstrap");
    // /dev/null is the one file every container runtime provides, even `FROM scratch`.
    let mknod = Command::new("mknod")
        .args(["-m", "666"])
        .arg(root.join("dev/null"))
        .args(["c", "1", "3"])
        .status()
        .expect("mknod");
    assert!(mknod.success());
    let entries: Vec<_> = std::fs::read_dir(&root)
        .expect("ls")
        .flatten()
        .map(|e| e.file_name())
        .collect();
    assert_eq!(
        entries.len(),
        3,
        "no libc, no loader, nothing else: {entries:?}"
    );

    let addr = support::free_addr();
    let api = support::free_addr();
    let mut child = Command::new("chroot")
        .arg(&root)
        .args([
            "/esb",
            "rie",
            "--listen",
            &addr.to_string(),
            "--runtime-api",
            &api.to_string(),
            "--",
            "/bootstrap",
        ])
        .env_clear()
        .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("chroot esb");
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(addr).is_err() {
        assert!(
            std::time::Instant::now() < deadline,
            "esb did not start in the empty root"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let resp = reqwest::blocking::Client::new()
        .post(format!(
            "http://{addr}/2015-03-31/functions/function/invocations"
        ))
        .body(json!({"action": "echo", "payload": "from an empty root"}).to_string())
        .send()
        .expect("invoke");
    let status = resp.status().as_u16();
    let body = resp.text().expect("body");
    let _ = child.kill();
    let _ = child.wait();
    let _ = std::fs::remove_dir_all(&root);
    assert_eq!((status, body.as_str()), (200, "\"from an empty root\""));
}
