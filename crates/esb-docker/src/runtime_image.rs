//! ESB's binary as a one-file image, `esb/runtime:<digest>`, that function images take
//! it from with `COPY --from`: the binary (~20 MB, ~120 MB in debug builds) goes to the
//! daemon once per version instead of in every function's build context, and the layer
//! that copy makes is cached and shared by every function on the same base. Runtime
//! images of earlier binaries are removed once a new one is made (after a grace
//! period; a build that loses its runtime image meanwhile makes it again).

use std::collections::HashMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::Duration;

use bollard::Docker;
use bollard::query_parameters::{BuildImageOptionsBuilder, ListImagesOptionsBuilder};
use tokio::sync::Mutex;

use crate::build_context::stream_tar;
use crate::content_hash::{HASH_LEN, binary_digest, hex};
use crate::daemon;
use crate::error::ImageError;
use crate::labels;
use crate::progress::Task;
use crate::source_tree::off_thread;
use crate::tar_entries::header;

/// Where the binary sits in the runtime image.
pub const PATH_IN_RUNTIME_IMAGE: &str = "/esb";
const REPOSITORY: &str = "esb/runtime";
/// How old a superseded runtime image must be before it is removed.
const PRUNE_AFTER: Duration = Duration::from_secs(15 * 60);

/// The running esb binary, to put in images: `current_exe()`, or `/proc/self/exe` when
/// that file was replaced or deleted since the process started (a rebuild while a box
/// runs), so images carry the binary actually running.
pub fn running_binary() -> Result<PathBuf, ImageError> {
    let exe = std::env::current_exe().map_err(|source| ImageError::Read {
        path: PathBuf::from("/proc/self/exe"),
        source,
    })?;
    if exe.is_file() {
        Ok(exe)
    } else {
        Ok(PathBuf::from("/proc/self/exe"))
    }
}

/// Runtime images for a batch of builds: concurrent builds wait for the one that
/// sends the binary instead of sending it too.
#[derive(Debug, Default)]
pub struct RuntimeImages {
    making: Mutex<()>,
}

impl RuntimeImages {
    /// The image id of `esb/runtime:<digest of esb_binary>`, built if missing (checked
    /// on every call: another box may prune it meanwhile).
    pub async fn get(
        &self,
        docker: &Docker,
        esb_binary: &Path,
        task: &Task,
    ) -> Result<String, ImageError> {
        let _one_at_a_time = self.making.lock().await;
        ensure(docker, esb_binary, task).await
    }
}

async fn ensure(docker: &Docker, esb_binary: &Path, task: &Task) -> Result<String, ImageError> {
    let bin = esb_binary.to_path_buf();
    let digest = off_thread(esb_binary, move || binary_digest(&bin)).await?;
    let name = format!("{REPOSITORY}:{}", &hex(&digest)[..HASH_LEN]);
    if let Some(id) = daemon::image_if_exists(docker, &name)
        .await?
        .and_then(|i| i.id)
    {
        return Ok(id);
    }
    check_static(esb_binary)?;
    task.step(&format!("sending the esb binary ({name})"));
    let len = std::fs::metadata(esb_binary)
        .map_err(|source| ImageError::Read {
            path: esb_binary.to_path_buf(),
            source,
        })?
        .len();
    let dockerfile = format!("FROM scratch\nCOPY esb {PATH_IN_RUNTIME_IMAGE}\n");
    let bin = esb_binary.to_path_buf();
    let body = stream_tar(move |tar| {
        let mut h = header(tar::EntryType::Regular, 0o644, dockerfile.len() as u64, 0);
        tar.append_data(&mut h, "Dockerfile", dockerfile.as_bytes())?;
        let file = std::fs::File::open(&bin)?;
        let mut h = header(tar::EntryType::Regular, 0o755, len, 0);
        tar.append_data(&mut h, "esb", file.take(len))
    });
    let options = BuildImageOptionsBuilder::default()
        .dockerfile("Dockerfile")
        .t(&name)
        .rm(true)
        .forcerm(true)
        .labels(&HashMap::from([(labels::MANAGED, "true")]))
        .build();
    let id = daemon::build(docker, options, body, &name, task).await?;
    prune_superseded(docker, &id).await;
    Ok(id)
}

/// Removes runtime images of earlier binaries (each rebuild of `esb` makes one) once
/// they are old enough that no build can still be about to copy from them. Function
/// images do not depend on them: `COPY --from` copies the file.
async fn prune_superseded(docker: &Docker, current: &str) {
    let filters = HashMap::from([("reference".to_string(), vec![format!("{REPOSITORY}:*")])]);
    let options = ListImagesOptionsBuilder::default()
        .filters(&filters)
        .build();
    let Ok(images) = docker.list_images(Some(options)).await else {
        return;
    };
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    for image in images {
        let age = now.saturating_sub(u64::try_from(image.created).unwrap_or(u64::MAX));
        if image.id != current && age >= PRUNE_AFTER.as_secs() {
            daemon::remove_if_unused(docker, &image.id).await;
        }
    }
}

/// Images run the binary in any root filesystem (even `scratch`): it must not need a
/// dynamic loader. Files that are not ELF are left alone.
fn check_static(binary: &Path) -> Result<(), ImageError> {
    let read_err = |source| ImageError::Read {
        path: binary.to_path_buf(),
        source,
    };
    // The ELF and program headers sit at the start of the file.
    let mut elf = Vec::new();
    std::fs::File::open(binary)
        .and_then(|f| f.take(64 * 1024).read_to_end(&mut elf))
        .map_err(read_err)?;
    if has_interpreter(&elf) {
        return Err(ImageError::DynamicBinary {
            path: binary.to_path_buf(),
        });
    }
    Ok(())
}

/// True for a 64-bit little-endian ELF with a PT_INTERP program header.
fn has_interpreter(elf: &[u8]) -> bool {
    if elf.get(..6) != Some(b"\x7fELF\x02\x01") {
        return false;
    }
    let u16_at = |o: usize| {
        elf.get(o..o + 2)
            .and_then(|b| b.try_into().ok())
            .map(|b| u16::from_le_bytes(b) as usize)
    };
    let u64_at = |o: usize| {
        elf.get(o..o + 8)
            .and_then(|b| b.try_into().ok())
            .map(|b| u64::from_le_bytes(b) as usize)
    };
    let (Some(phoff), Some(size), Some(count)) = (u64_at(0x20), u16_at(0x36), u16_at(0x38)) else {
        return false;
    };
    (0..count).any(|i| {
        phoff
            .checked_add(i * size)
            .and_then(|off| elf.get(off..off + 4))
            .is_some_and(|t| t == 3u32.to_le_bytes())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_dynamic_elf_files_have_an_interpreter() {
        assert!(!has_interpreter(b"not an elf"));
        assert!(!has_interpreter(b"\x7fELF\x02\x01 truncated"));
        // Debian's shell is dynamically linked.
        let sh = std::fs::read("/bin/sh").expect("read /bin/sh");
        assert!(has_interpreter(&sh));
    }
}
