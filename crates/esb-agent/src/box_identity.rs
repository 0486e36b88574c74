//! The box id: a short random name kept in the state dir. The docker runtime labels
//! every container and network with it, so boxes sharing a daemon only ever touch their
//! own objects, and a restarted agent on the same state dir finds its containers again.

use std::ffi::OsString;

use esb_state::StateDir;

/// Reads `<state>/box-id`, creating it on first use.
pub fn box_id(state_dir: &StateDir) -> std::io::Result<String> {
    let path = state_dir.box_id();
    if let Ok(existing) = std::fs::read_to_string(&path) {
        let id = existing.trim();
        if !id.is_empty() && id.len() <= 32 && id.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Ok(id.to_string());
        }
        tracing::warn!("{} is not a box id: making a new one", path.display());
    }
    let id = uuid::Uuid::new_v4().simple().to_string()[..12].to_string();
    std::fs::create_dir_all(state_dir.root())?;
    // `.box-id.tmp` beside it: a crash never leaves half an id.
    let mut tmp_name = OsString::from(".");
    tmp_name.push(path.file_name().unwrap_or_default());
    tmp_name.push(".tmp");
    let tmp = path.with_file_name(tmp_name);
    std::fs::write(&tmp, &id)?;
    std::fs::rename(tmp, path)?;
    Ok(id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_id_is_stable_per_state_dir_and_distinct_across_them() {
        let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let (a, b) = (StateDir::new(a.path()), StateDir::new(b.path()));
        let first = box_id(&a).unwrap();
        assert_eq!(box_id(&a).unwrap(), first);
        assert_ne!(box_id(&b).unwrap(), first);
        std::fs::write(a.box_id(), "../../etc").unwrap();
        assert_ne!(box_id(&a).unwrap(), "../../etc");
    }
}
