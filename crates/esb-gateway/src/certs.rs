//! The box's private CA and server certificate, generated on first start in the
//! state dir's certificate folder ([`StateDir::certs`], `ca.pem` is the CA users and
//! workers trust) and reused after.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::PathBuf;

use esb_state::{StateDir, write_private};

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
    /// The CA's private key: kept so a changed name set re-issues the server leaf under
    /// the same CA (users and nodes keep trusting it), and so the box can sign the
    /// certificates of nodes that join it.
    pub ca_key: PathBuf,
    pub server_cert: PathBuf,
    pub server_key: PathBuf,
}

impl CertPaths {
    pub fn under(state: &StateDir) -> Self {
        let dir = state.certs();
        Self {
            ca: dir.join("ca.pem"),
            ca_key: dir.join("ca-key.pem"),
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

/// The CA's subject; also what a CA regenerated for an older state dir is called.
const CA_NAME: &str = "ESB local CA";

/// Creates the CA and a server certificate for [`SERVER_NAMES`] and loopback unless
/// they already exist for exactly those names.
pub fn ensure(state: &StateDir) -> Result<CertPaths, CertError> {
    ensure_with(state, &[], &[])
}

/// [`ensure`], with the server certificate also valid for `extra_ips` and
/// `extra_names`: the addresses nodes on other machines reach the box by. A changed
/// set re-issues the server certificate only; the CA stays (when its key is kept).
pub fn ensure_with(
    state: &StateDir,
    extra_ips: &[IpAddr],
    extra_names: &[String],
) -> Result<CertPaths, CertError> {
    let paths = CertPaths::under(state);
    let dir = state.certs();
    let io = |reason| CertError::Io {
        dir: dir.clone(),
        reason,
    };
    let mut names: Vec<String> = SERVER_NAMES.map(String::from).to_vec();
    for name in extra_names {
        if !names.contains(name) {
            names.push(name.clone());
        }
    }
    let loopback: [IpAddr; 2] = [Ipv4Addr::LOCALHOST.into(), Ipv6Addr::LOCALHOST.into()];
    let mut ips: Vec<IpAddr> = loopback.to_vec();
    for ip in extra_ips {
        if !ips.contains(ip) {
            ips.push(*ip);
        }
    }
    // The loopback pair was implied before extras existed: the recorded text of a
    // default box stays what older ESBs wrote, so upgrading re-issues nothing.
    let mut record = names.clone();
    record.extend(ips.iter().skip(loopback.len()).map(|ip| ip.to_string()));
    let names_file = dir.join("server-names");
    let names_now = record.join("\n");
    let current = std::fs::read_to_string(&names_file).is_ok_and(|n| n == names_now);
    let ca_present = paths.ca.is_file() && paths.ca_key.is_file();
    if current && ca_present && paths.server_cert.is_file() && paths.server_key.is_file() {
        tighten(&paths.server_key).map_err(io)?;
        tighten(&paths.ca_key).map_err(io)?;
        return Ok(paths);
    }
    std::fs::create_dir_all(&dir).map_err(io)?;

    let issuer = match ca_present {
        true => {
            tighten(&paths.ca_key).map_err(io)?;
            let ca_pem = std::fs::read_to_string(&paths.ca).map_err(io)?;
            let key_pem = std::fs::read_to_string(&paths.ca_key).map_err(io)?;
            Issuer::from_ca_cert_pem(&ca_pem, KeyPair::from_pem(&key_pem)?)?
        }
        // No CA, or one whose key an older ESB discarded: a new CA.
        false => {
            let ca_key = KeyPair::generate()?;
            let mut ca_params = CertificateParams::new(Vec::<String>::new())?;
            ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
            ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
            ca_params
                .distinguished_name
                .push(DnType::CommonName, CA_NAME);
            let ca_cert = ca_params.self_signed(&ca_key)?;
            write_private(&paths.ca_key, ca_key.serialize_pem().as_bytes()).map_err(io)?;
            std::fs::write(&paths.ca, ca_cert.pem()).map_err(io)?;
            Issuer::new(ca_params, ca_key)
        }
    };

    let mut params = CertificateParams::new(names)?;
    params
        .subject_alt_names
        .extend(ips.into_iter().map(SanType::IpAddress));
    params
        .distinguished_name
        .push(DnType::CommonName, "ESB gateway");
    let key = KeyPair::generate()?;
    let cert = params.signed_by(&key, &issuer)?;

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

    /// Whether `server.pem` verifies under `ca.pem` for `name` (a DNS name or an IP).
    fn server_cert_valid_for(paths: &CertPaths, name: &str) -> bool {
        use rustls::client::WebPkiServerVerifier;
        use rustls::client::danger::ServerCertVerifier;
        use rustls::pki_types::pem::PemObject;
        use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
        let mut roots = rustls::RootCertStore::empty();
        roots
            .add(CertificateDer::from_pem_file(&paths.ca).expect("ca"))
            .expect("root");
        let verifier = WebPkiServerVerifier::builder_with_provider(
            std::sync::Arc::new(roots),
            std::sync::Arc::new(rustls::crypto::ring::default_provider()),
        )
        .build()
        .expect("verifier");
        let leaf = CertificateDer::from_pem_file(&paths.server_cert).expect("leaf");
        let name = ServerName::try_from(name.to_string()).expect("name");
        verifier
            .verify_server_cert(&leaf, &[], &name, &[], UnixTime::now())
            .is_ok()
    }

    #[test]
    fn extra_names_reissue_the_server_certificate_under_the_same_ca() {
        use std::os::unix::fs::PermissionsExt;
        let root = tempfile::tempdir().expect("tempdir");
        let state = StateDir::new(root.path());
        let paths = ensure(&state).expect("first start");
        let mode = std::fs::metadata(&paths.ca_key)
            .expect("ca key kept")
            .permissions()
            .mode();
        assert_eq!(
            mode & 0o777,
            0o600,
            "the CA key is the box's most secret file"
        );
        let ca = std::fs::read(&paths.ca).expect("ca");
        assert!(server_cert_valid_for(&paths, "127.0.0.1"));
        assert!(!server_cert_valid_for(&paths, "10.9.8.7"));

        let ip: IpAddr = "10.9.8.7".parse().expect("ip");
        let extra = ["box.example".to_string()];
        ensure_with(&state, &[ip], &extra).expect("new names");
        assert_eq!(std::fs::read(&paths.ca).expect("ca"), ca, "same CA");
        for name in ["10.9.8.7", "box.example", "127.0.0.1", "localhost"] {
            assert!(server_cert_valid_for(&paths, name), "valid for {name}");
        }
        let leaf = std::fs::read(&paths.server_cert).expect("leaf");
        ensure_with(&state, &[ip], &extra).expect("same names");
        assert_eq!(
            std::fs::read(&paths.server_cert).expect("leaf"),
            leaf,
            "kept"
        );
        ensure(&state).expect("extras gone");
        assert!(!server_cert_valid_for(&paths, "10.9.8.7"));
        assert_eq!(
            std::fs::read(&paths.ca).expect("ca"),
            ca,
            "still the same CA"
        );
    }

    #[test]
    fn a_state_dir_without_the_ca_key_gets_a_new_ca() {
        let root = tempfile::tempdir().expect("tempdir");
        let state = StateDir::new(root.path());
        let paths = ensure(&state).expect("first start");
        let ca = std::fs::read(&paths.ca).expect("ca");
        // What an ESB that discarded the CA key left behind.
        std::fs::remove_file(&paths.ca_key).expect("rm");
        ensure(&state).expect("upgrade");
        assert!(paths.ca_key.is_file());
        assert_ne!(std::fs::read(&paths.ca).expect("ca"), ca);
        assert!(server_cert_valid_for(&paths, "localhost"));
    }
}
