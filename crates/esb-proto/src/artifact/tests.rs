use super::*;

fn function_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path();
    fs::write(root.join("bootstrap"), "#!/bin/sh\necho hi\n").expect("write");
    fs::set_permissions(root.join("bootstrap"), fs::Permissions::from_mode(0o755)).expect("chmod");
    fs::create_dir_all(root.join("lib/sub")).expect("mkdir");
    fs::write(root.join("lib/sub/data.txt"), "data").expect("write");
    fs::write(root.join("lib/libx.so.1"), "elf").expect("write");
    std::os::unix::fs::symlink("libx.so.1", root.join("lib/libx.so")).expect("symlink");
    dir
}

fn unpack_bytes(bytes: &[u8], hash: &str, dest: &Path) -> Result<bool, ArtifactError> {
    unpack_verified(io::Cursor::new(bytes), hash, dest)
}

#[test]
fn a_directory_packs_to_the_same_hash_every_time() {
    let dir = function_dir();
    let a = pack(dir.path()).expect("pack");
    // Touching mtimes and repacking changes nothing: mtimes are not in the artifact.
    let f = File::options()
        .write(true)
        .open(dir.path().join("lib/sub/data.txt"))
        .expect("open");
    f.set_modified(std::time::SystemTime::now() + std::time::Duration::from_secs(99))
        .expect("mtime");
    let b = pack(dir.path()).expect("pack");
    assert_eq!(a.hash, b.hash);
    assert_eq!(a.bytes, b.bytes);
    assert!(is_valid_hash(&a.hash), "{}", a.hash);
    // A copy elsewhere (other path, other inode order) packs to the same hash too.
    let copy = tempfile::tempdir().expect("tempdir");
    let dest = copy.path().join(&a.hash);
    unpack_bytes(&a.bytes, &a.hash, &dest).expect("unpack");
    assert_eq!(pack(&dest).expect("repack").hash, a.hash);
}

#[test]
fn a_changed_byte_or_mode_changes_the_hash() {
    let dir = function_dir();
    let before = pack(dir.path()).expect("pack").hash;
    fs::write(dir.path().join("lib/sub/data.txt"), "datb").expect("write");
    let byte = pack(dir.path()).expect("pack").hash;
    assert_ne!(before, byte);
    fs::set_permissions(
        dir.path().join("bootstrap"),
        fs::Permissions::from_mode(0o644),
    )
    .expect("chmod");
    let mode = pack(dir.path()).expect("pack").hash;
    assert_ne!(byte, mode);
}

#[test]
fn unpacked_files_keep_modes_and_inside_symlinks() {
    let dir = function_dir();
    let packed = pack(dir.path()).expect("pack");
    let store = tempfile::tempdir().expect("tempdir");
    let dest = store.path().join(&packed.hash);
    assert!(!unpack_bytes(&packed.bytes, &packed.hash, &dest).expect("unpack"));
    let mode = fs::metadata(dest.join("bootstrap"))
        .expect("bootstrap")
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o755);
    assert_eq!(
        fs::read_link(dest.join("lib/libx.so")).expect("link"),
        PathBuf::from("libx.so.1")
    );
    assert_eq!(
        fs::read_to_string(dest.join("lib/sub/data.txt")).expect("read"),
        "data"
    );
    // Stored again: already there.
    assert!(unpack_bytes(&packed.bytes, &packed.hash, &dest).expect("again"));
}

#[test]
fn symlinks_leaving_the_directory_copy_files_and_refuse_directories() {
    let outside = tempfile::tempdir().expect("tempdir");
    fs::write(outside.path().join("real.py"), "x = 1").expect("write");
    let dir = tempfile::tempdir().expect("tempdir");
    std::os::unix::fs::symlink(outside.path().join("real.py"), dir.path().join("mod.py"))
        .expect("symlink");
    let packed = pack(dir.path()).expect("pack");
    let store = tempfile::tempdir().expect("tempdir");
    let dest = store.path().join(&packed.hash);
    unpack_bytes(&packed.bytes, &packed.hash, &dest).expect("unpack");
    let copied = dest.join("mod.py");
    assert!(
        !fs::symlink_metadata(&copied)
            .expect("meta")
            .file_type()
            .is_symlink()
    );
    assert_eq!(fs::read_to_string(&copied).expect("read"), "x = 1");

    std::os::unix::fs::symlink(outside.path(), dir.path().join("elsewhere")).expect("symlink");
    let err = pack(dir.path()).expect_err("a directory outside");
    assert!(err.to_string().contains("elsewhere"), "{err}");
}

#[test]
fn a_mismatching_hash_is_refused_and_leaves_nothing() {
    let dir = function_dir();
    let packed = pack(dir.path()).expect("pack");
    let store = tempfile::tempdir().expect("tempdir");
    let wrong = "0".repeat(64);
    let dest = store.path().join(&wrong);
    let err = unpack_bytes(&packed.bytes, &wrong, &dest).expect_err("mismatch");
    assert!(matches!(err, ArtifactError::Mismatch { .. }), "{err}");
    assert_eq!(fs::read_dir(store.path()).expect("list").count(), 0);
    // Not a hash at all (it would become a path): refused before anything is written.
    let err = unpack_bytes(&packed.bytes, "../x", &store.path().join("../x")).expect_err("bad");
    assert!(matches!(err, ArtifactError::BadHash(_)), "{err}");
}

#[test]
fn artifacts_over_the_cap_are_refused_on_both_sides() {
    let dir = function_dir();
    let err = pack_capped(dir.path(), 1024).expect_err("too big");
    assert!(
        err.to_string().contains(&dir.path().display().to_string()),
        "{err}"
    );
    let packed = pack(dir.path()).expect("pack");
    let store = tempfile::tempdir().expect("tempdir");
    let mut w = ArtifactWriter::with_max(&packed.hash, &store.path().join(&packed.hash), 1024)
        .expect("writer");
    assert!(matches!(
        w.write(&packed.bytes),
        Err(ArtifactError::TooLarge { .. })
    ));
    drop(w);
    assert_eq!(fs::read_dir(store.path()).expect("list").count(), 0);
}

/// A tar written by hand (the `tar` crate's builder refuses `..` itself).
fn raw_tar(entries: &[(&str, tar::EntryType, &str)]) -> PackedArtifact {
    let mut bytes = Vec::new();
    for (name, kind, content) in entries {
        let mut header = tar::Header::new_old();
        let field = &mut header.as_old_mut().name;
        field[..name.len()].copy_from_slice(name.as_bytes());
        header.set_mode(0o644);
        header.set_entry_type(*kind);
        if *kind == tar::EntryType::Symlink {
            let link = &mut header.as_old_mut().linkname;
            link[..content.len()].copy_from_slice(content.as_bytes());
            header.set_size(0);
        } else {
            header.set_size(content.len() as u64);
        }
        header.set_cksum();
        bytes.extend_from_slice(header.as_bytes());
        if *kind != tar::EntryType::Symlink {
            bytes.extend_from_slice(content.as_bytes());
            bytes.resize(bytes.len().div_ceil(512) * 512, 0);
        }
    }
    bytes.extend_from_slice(&[0; 1024]);
    PackedArtifact {
        hash: hex(&Sha256::digest(&bytes)),
        bytes,
    }
}

#[test]
fn entries_escaping_the_artifact_are_refused() {
    use tar::EntryType::{Regular, Symlink};
    let cases: [&[(&str, tar::EntryType, &str)]; 5] = [
        &[("../evil", Regular, "x")],
        &[("/tmp/evil", Regular, "x")],
        &[("a/../../evil", Regular, "x")],
        &[("link", Symlink, "../..")],
        // Each link alone stays inside; through the chain a write would not.
        &[
            ("l", Symlink, "."),
            ("k", Symlink, "l/.."),
            ("k/evil", Regular, "x"),
        ],
    ];
    for entries in cases {
        let packed = raw_tar(entries);
        let store = tempfile::tempdir().expect("tempdir");
        let dest = store.path().join("box").join(&packed.hash);
        let err = unpack_bytes(&packed.bytes, &packed.hash, &dest).expect_err("escape");
        assert!(
            matches!(err, ArtifactError::UnsafeEntry { .. }),
            "{entries:?}: {err}"
        );
        // Nothing was left: not the artifact, not a temporary tree, not the evil file.
        assert_eq!(
            fs::read_dir(store.path().join("box"))
                .expect("list")
                .count(),
            0
        );
        assert!(!store.path().join("evil").exists());
    }
}

#[test]
fn concurrent_pushes_of_one_artifact_both_succeed() {
    let dir = function_dir();
    let packed = std::sync::Arc::new(pack(dir.path()).expect("pack"));
    let store = tempfile::tempdir().expect("tempdir");
    let dest = store.path().join(&packed.hash);
    let pushes: Vec<_> = (0..4)
        .map(|_| {
            let (p, d) = (packed.clone(), dest.clone());
            std::thread::spawn(move || unpack_bytes(&p.bytes, &p.hash, &d))
        })
        .collect();
    for p in pushes {
        p.join().expect("thread").expect("push");
    }
    assert_eq!(fs::read_dir(store.path()).expect("list").count(), 1);
    assert_eq!(pack(&dest).expect("repack").hash, packed.hash);
}

#[test]
fn the_fingerprint_follows_changes_without_reading_contents() {
    let dir = function_dir();
    let a = fingerprint(dir.path()).expect("fp");
    assert_eq!(a, fingerprint(dir.path()).expect("fp"));
    fs::write(dir.path().join("new.txt"), "n").expect("write");
    let b = fingerprint(dir.path()).expect("fp");
    assert_ne!(a, b);
    fs::set_permissions(
        dir.path().join("bootstrap"),
        fs::Permissions::from_mode(0o700),
    )
    .expect("chmod");
    assert_ne!(b, fingerprint(dir.path()).expect("fp"));
}
