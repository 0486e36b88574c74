//! A host-wide claim on the /24 a box chose for its bridge: a file named after the
//! subnet under `/run/esb/subnets`, made with `O_EXCL`, holding the box's id. The
//! route check alone cannot tell two boxes choosing at the same moment apart (neither
//! bridge, so neither route, exists yet); the claim can. The box releases it when it
//! removes its bridge.

use std::io::Write;
use std::path::PathBuf;

const HOST_DIR: &str = "/run/esb/subnets";

pub struct SubnetClaims {
    dir: PathBuf,
}

impl SubnetClaims {
    pub fn host() -> Self {
        Self::in_dir(PathBuf::from(HOST_DIR))
    }

    fn in_dir(dir: PathBuf) -> Self {
        Self { dir }
    }

    fn path(&self, subnet: &str) -> PathBuf {
        self.dir.join(subnet.replace('/', "_"))
    }

    /// Whether `subnet` is now `box_id`'s: claimed by it here, or before. Where no
    /// claim can be written at all, the route check stands alone: true.
    pub fn claim(&self, subnet: &str, box_id: &str) -> bool {
        if std::fs::create_dir_all(&self.dir).is_err() {
            return true;
        }
        let path = self.path(subnet);
        match std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
        {
            Ok(mut file) => {
                let _ = file.write_all(box_id.as_bytes());
                true
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                // A claim being written reads empty for an instant: not ours.
                std::fs::read_to_string(&path).is_ok_and(|owner| owner == box_id)
            }
            Err(_) => true,
        }
    }

    /// Gives `subnet` back, if `box_id` holds it.
    pub fn release(&self, subnet: &str, box_id: &str) {
        let path = self.path(subnet);
        if std::fs::read_to_string(&path).is_ok_and(|owner| owner == box_id) {
            let _ = std::fs::remove_file(path);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_subnet_is_one_boxs_until_it_releases_it() {
        let dir = std::env::temp_dir().join(format!("esb-claims-{}", std::process::id()));
        let claims = SubnetClaims::in_dir(dir.clone());
        assert!(claims.claim("10.89.7.0/24", "a"));
        assert!(claims.claim("10.89.7.0/24", "a"), "a claim of its own");
        assert!(!claims.claim("10.89.7.0/24", "b"));
        claims.release("10.89.7.0/24", "b");
        assert!(
            !claims.claim("10.89.7.0/24", "b"),
            "only its owner releases it"
        );
        claims.release("10.89.7.0/24", "a");
        assert!(claims.claim("10.89.7.0/24", "b"));
        let _ = std::fs::remove_dir_all(dir);
    }
}
