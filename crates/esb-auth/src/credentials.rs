//! The access key pair a box issues: its APIs accept only requests signed with it, and
//! every worker gets it, so chained SDK calls pass. Kept in `<state>/credentials` as an
//! AWS shared-credentials file, so
//! `AWS_SHARED_CREDENTIALS_FILE=.esb/credentials aws lambda invoke ...` just works.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use aws_sigv4::http_request::{SigningParams, SigningSettings};
use aws_sigv4::sign::v4;
use aws_sigv4::sign::v4::signing_params::BuildError;
use aws_smithy_runtime_api::client::identity::Identity;
use base64::Engine;

/// The access key pair the box issues; every signed request must use it.
#[derive(Clone, PartialEq, Eq)]
pub struct BoxCredentials {
    pub access_key_id: String,
    pub secret_access_key: String,
}

impl BoxCredentials {
    /// A secret of the box's for `purpose` (the workers' log token, say), derived from
    /// the key pair so that it is the same after every restart, when workers from the
    /// previous run are adopted, and reveals nothing of the secret key.
    pub fn derived_secret(&self, purpose: &str) -> String {
        use sha2::{Digest, Sha256};
        let mut h = Sha256::new();
        h.update(purpose.as_bytes());
        h.update([0]);
        h.update(self.secret_access_key.as_bytes());
        hex::encode(h.finalize())
    }

    /// The pair as the AWS signer takes it.
    pub(crate) fn identity(&self) -> Identity {
        aws_credential_types::Credentials::new(
            &self.access_key_id,
            &self.secret_access_key,
            None,
            None,
            "esb-box",
        )
        .into()
    }
}

/// What the AWS signer needs to sign (or re-sign, to check) one request.
pub(crate) fn signing_params<'a>(
    identity: &'a Identity,
    region: &'a str,
    service: &'a str,
    at: std::time::SystemTime,
    settings: SigningSettings,
) -> Result<SigningParams<'a>, BuildError> {
    Ok(v4::SigningParams::builder()
        .identity(identity)
        .region(region)
        .name(service)
        .time(at)
        .settings(settings)
        .build()?
        .into())
}

impl std::fmt::Debug for BoxCredentials {
    /// The secret never reaches a log.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BoxCredentials")
            .field("access_key_id", &self.access_key_id)
            .finish_non_exhaustive()
    }
}

/// Why the box's key pair could not be had.
#[derive(Debug, thiserror::Error)]
pub enum CredentialsError {
    #[error("set both {KEY_ENV} and {SECRET_ENV} (non-empty), or neither")]
    HalfSet,
    #[error(
        "{} is not a credentials file with aws_access_key_id and aws_secret_access_key; remove it to issue a new pair",
        .0.display()
    )]
    Damaged(PathBuf),
    #[error("cannot read or write {}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

const KEY_ENV: &str = "ESB_ACCESS_KEY_ID";
const SECRET_ENV: &str = "ESB_SECRET_ACCESS_KEY";

/// `ESB_ACCESS_KEY_ID` + `ESB_SECRET_ACCESS_KEY` when set, else the pair in the file at
/// `path` (the state dir's `credentials`), else a new pair written there (mode 0600).
pub fn load_or_issue(path: &Path) -> Result<BoxCredentials, CredentialsError> {
    match (std::env::var(KEY_ENV).ok(), std::env::var(SECRET_ENV).ok()) {
        (Some(access_key_id), Some(secret_access_key))
            if !access_key_id.is_empty() && !secret_access_key.is_empty() =>
        {
            return Ok(BoxCredentials {
                access_key_id,
                secret_access_key,
            });
        }
        (None, None) => {}
        _ => return Err(CredentialsError::HalfSet),
    }
    let io = |source| CredentialsError::Io {
        path: path.to_path_buf(),
        source,
    };
    match std::fs::read_to_string(path) {
        Ok(text) => parse(&text).ok_or_else(|| CredentialsError::Damaged(path.to_path_buf())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let creds = issue();
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir).map_err(io)?;
            }
            let mut file = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(path)
                .map_err(io)?;
            file.write_all(render(&creds).as_bytes())
                .and_then(|()| file.sync_all())
                .map_err(io)?;
            Ok(creds)
        }
        Err(e) => Err(io(e)),
    }
}

/// 20-character key id and 40-character secret, like AWS's, from the OS's CSPRNG.
fn issue() -> BoxCredentials {
    let random = |n: usize| -> Vec<u8> {
        (0..n.div_ceil(16))
            .flat_map(|_| uuid::Uuid::new_v4().into_bytes())
            .collect()
    };
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let id: String = random(16)
        .iter()
        .take(16)
        .map(|b| ALPHABET[usize::from(b % 32)] as char)
        .collect();
    let secret = base64::engine::general_purpose::STANDARD.encode(random(48));
    BoxCredentials {
        access_key_id: format!("ESBK{id}"),
        secret_access_key: secret.chars().take(40).collect(),
    }
}

fn render(c: &BoxCredentials) -> String {
    format!(
        "# Issued by this ESB box: the Invoke API accepts requests signed with this pair.\n[default]\naws_access_key_id = {}\naws_secret_access_key = {}\n",
        c.access_key_id, c.secret_access_key
    )
}

fn parse(text: &str) -> Option<BoxCredentials> {
    let value = |key: &str| {
        text.lines().find_map(|l| {
            let (k, v) = l.split_once('=')?;
            (k.trim() == key).then(|| v.trim().to_string())
        })
    };
    Some(BoxCredentials {
        access_key_id: value("aws_access_key_id").filter(|v| !v.is_empty())?,
        secret_access_key: value("aws_secret_access_key").filter(|v| !v.is_empty())?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILE: &str = "credentials";

    #[test]
    fn derived_secrets_are_stable_per_purpose_and_hide_the_key() {
        let creds = issue();
        let token = creds.derived_secret("log token");
        assert_eq!(token, creds.derived_secret("log token"));
        assert_ne!(token, creds.derived_secret("other"));
        assert_ne!(token, issue().derived_secret("log token"));
        assert!(!token.contains(&creds.secret_access_key));
        assert_eq!(token.len(), 64);
    }

    #[test]
    fn issued_once_then_read_back() {
        let dir = tempfile::tempdir().expect("tempdir");
        let first = load_or_issue(&dir.path().join(FILE)).expect("issue");
        assert_eq!(first.access_key_id.len(), 20);
        assert_eq!(first.secret_access_key.len(), 40);
        assert_eq!(load_or_issue(&dir.path().join(FILE)).expect("read"), first);
        let mode = std::fs::metadata(dir.path().join(FILE))
            .expect("file")
            .permissions();
        assert_eq!(
            std::os::unix::fs::PermissionsExt::mode(&mode) & 0o777,
            0o600
        );
        let other = tempfile::tempdir().expect("tempdir");
        assert_ne!(
            load_or_issue(&other.path().join(FILE)).expect("issue"),
            first
        );
    }

    #[test]
    fn a_damaged_file_is_an_error_not_a_new_pair() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join(FILE), "[default]\n").expect("write");
        assert!(load_or_issue(&dir.path().join(FILE)).is_err());
    }
}
