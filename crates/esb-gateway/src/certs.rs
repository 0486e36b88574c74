//! The box's private CA and server certificate, generated on first start in the
//! state dir's certificate folder ([`StateDir::certs`], `ca.pem` is the CA users and
//! workers trust) and reused after.

use std::path::PathBuf;

use esb_state::StateDir;

use rcgen::{
    BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose, SanType,
};

#[derive(Debug, thiserror::Error)]
pub enum CertError {
    #[error("cannot write certificates under {dir}: {reason}")]
    Io {
        dir: PathBuf,
        reason: std::io::Error,
    },
    #[error("cannot generate certificates: {0}")]
    Generate(#[from] rcgen::Error),
}

/// PEM files of the box's TLS identity.
#[derive(Debug, Clone)]
pub struct CertPaths {
    pub ca: PathBuf,
    pub server_cert: PathBuf,
    pub server_key: PathBuf,
}

impl CertPaths {
    pub fn under(state: &StateDir) -> Self {
        let dir = state.certs();
        Self {
            ca: dir.join("ca.pem"),
            server_cert: dir.join("server.pem"),
            server_key: dir.join("server-key.pem"),
        }
    }
}

/// Names the server certificate is valid for, besides loopback addresses: containers
/// reach the box as `host.docker.internal`; S3 clients using virtual-hosted-style
/// addressing name the bucket in the host (`photos.s3.localhost`). (`*.localhost`
/// would be a wildcard over a single label, which TLS clients refuse.)
const SERVER_NAMES: [&str; 5] = [
    "localhost",
    "host.docker.internal",
    "s3.localhost",
    "*.s3.localhost",
    "*.host.docker.internal",
];

/// Creates the CA and a server certificate for [`SERVER_NAMES`] and loopback unless
/// they already exist for exactly those names.
pub fn ensure(state: &StateDir) -> Result<CertPaths, CertError> {
    let paths = CertPaths::under(state);
    let dir = state.certs();
    let names_file = dir.join("server-names");
    let names_now = SERVER_NAMES.join("\n");
    let current = std::fs::read_to_string(&names_file).is_ok_and(|n| n == names_now);
    if current && paths.ca.is_file() && paths.server_cert.is_file() && paths.server_key.is_file() {
        tighten(&paths.server_key).map_err(|reason| CertError::Io {
            dir: dir.clone(),
            reason,
        })?;
        return Ok(paths);
    }
    let io = |reason| CertError::Io {
        dir: dir.clone(),
        reason,
    };
    std::fs::create_dir_all(&dir).map_err(io)?;

    let ca_key = KeyPair::generate()?;
    let mut ca_params = CertificateParams::new(Vec::<String>::new())?;
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "ESB local CA");
    let ca_cert = ca_params.self_signed(&ca_key)?;

    let mut params = CertificateParams::new(SERVER_NAMES.map(String::from).to_vec())?;
    params.subject_alt_names.push(SanType::IpAddress(
        "127.0.0.1"
            .parse()
            .map_err(|_| rcgen::Error::CouldNotParseCertificate)?,
    ));
    params.subject_alt_names.push(SanType::IpAddress(
        "::1"
            .parse()
            .map_err(|_| rcgen::Error::CouldNotParseCertificate)?,
    ));
    params
        .distinguished_name
        .push(DnType::CommonName, "ESB gateway");
    let key = KeyPair::generate()?;
    let issuer = Issuer::new(ca_params, ca_key);
    let cert = params.signed_by(&key, &issuer)?;

    std::fs::write(&paths.ca, ca_cert.pem()).map_err(io)?;
    std::fs::write(&paths.server_cert, cert.pem()).map_err(io)?;
    write_private(&paths.server_key, key.serialize_pem().as_bytes()).map_err(io)?;
    std::fs::write(&names_file, names_now).map_err(io)?;
    Ok(paths)
}

/// Takes group and other access away from a key an older ESB wrote with the umask's mode.
fn tighten(path: &std::path::Path) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    if std::fs::metadata(path)?.permissions().mode() & 0o077 != 0 {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
    }
    Ok(())
}

/// Writes a secret file readable by its user only (0600), also when it existed with a
/// wider mode: the server's private key is the box's TLS identity.
fn write_private(path: &std::path::Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)?;
    file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
    file.write_all(bytes)?;
    file.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn certificates_live_in_the_state_dirs_cert_folder_and_are_reused() {
        let root = tempfile::tempdir().expect("tempdir");
        let state = StateDir::new(root.path());
        let paths = ensure(&state).expect("first start");
        assert_eq!(paths.ca, root.path().join("certs").join("ca.pem"));
        for file in [&paths.ca, &paths.server_cert, &paths.server_key] {
            assert!(file.is_file(), "{} written", file.display());
        }
        let ca = std::fs::read(&paths.ca).expect("ca");
        ensure(&state).expect("second start");
        assert_eq!(
            std::fs::read(&paths.ca).expect("ca"),
            ca,
            "the CA users trust is kept"
        );
    }

    #[test]
    fn the_server_key_is_readable_by_its_user_only() {
        use std::os::unix::fs::PermissionsExt;
        let root = tempfile::tempdir().expect("tempdir");
        let state = StateDir::new(root.path());
        let paths = ensure(&state).expect("first start");
        let mode =
            |p: &std::path::Path| std::fs::metadata(p).expect("meta").permissions().mode() & 0o777;
        assert_eq!(mode(&paths.server_key), 0o600);
        // A key left world-readable (by an older ESB) is tightened, kept or rewritten.
        std::fs::set_permissions(&paths.server_key, std::fs::Permissions::from_mode(0o644))
            .expect("chmod");
        ensure(&state).expect("kept");
        assert_eq!(mode(&paths.server_key), 0o600);
        std::fs::set_permissions(&paths.server_key, std::fs::Permissions::from_mode(0o644))
            .expect("chmod");
        std::fs::remove_file(root.path().join("certs/server-names")).expect("names");
        ensure(&state).expect("regenerated");
        assert_eq!(mode(&paths.server_key), 0o600);
    }
}
