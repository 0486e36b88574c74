//! One-time join tokens (`<state>/nodes/tokens.json`). A token's text is
//! `esbjoin1.<id>.<secret>.<ca-sha256>`: the id finds it, the secret (128 bits from the
//! OS's CSPRNG; only its SHA-256 is stored) proves it, and the CA fingerprint lets the
//! node check it talks to the box that issued it before sending anything.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use esb_state::StateDir;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::box_ca::ca_sha256_of_pem;
use crate::error::NodesError;
use crate::join_error::JoinError;
use crate::store_file::{self, now_ms};

const PREFIX: &str = "esbjoin1";

/// How long a token is valid when `esb node add` is not told (`--ttl`).
pub const DEFAULT_TTL: Duration = Duration::from_secs(3600);

/// Spent and expired tokens are listed for this long after, then forgotten.
const KEEP_SPENT_MS: i64 = 7 * 24 * 3600 * 1000;

/// A token as `esb node tokens` shows it: never its secret.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct TokenInfo {
    pub id: String,
    /// The node name the token assigns (else the node's own `--name`).
    pub name: Option<String>,
    pub labels: BTreeMap<String, String>,
    pub created_at_ms: i64,
    pub expires_at_ms: i64,
    /// The node that joined with it.
    pub used_by: Option<String>,
    pub revoked: bool,
}

/// What a valid token lets its holder join as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JoinGrant {
    pub id: String,
    pub name: Option<String>,
    pub labels: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct StoredToken {
    #[serde(flatten)]
    info: TokenInfo,
    secret_sha256: String,
}

#[derive(Debug, Default, Serialize, Deserialize)]
pub(crate) struct TokenFile {
    tokens: Vec<StoredToken>,
}

/// A token's text, split.
pub(crate) struct ParsedToken<'a> {
    pub id: &'a str,
    pub secret: &'a str,
    pub ca_sha256: &'a str,
}

fn is_hex(s: &str, len: usize) -> bool {
    s.len() == len
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

pub(crate) fn parse(text: &str) -> Result<ParsedToken<'_>, JoinError> {
    let malformed = || {
        JoinError::MalformedToken(
            "a join token is esbjoin1.<8 hex>.<32 hex>.<64 hex>, as `esb node add` prints it"
                .into(),
        )
    };
    let mut parts = text.trim().split('.');
    let (Some(PREFIX), Some(id), Some(secret), Some(ca_sha256), None) = (
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
    ) else {
        return Err(malformed());
    };
    if !is_hex(id, 8) || !is_hex(secret, 32) || !is_hex(ca_sha256, 64) {
        return Err(malformed());
    }
    Ok(ParsedToken {
        id,
        secret,
        ca_sha256,
    })
}

/// The id part of a well-formed token (what `joined.json` remembers, not the secret).
pub fn token_id(text: &str) -> Option<String> {
    parse(text).ok().map(|t| t.id.to_string())
}

/// The CA fingerprint a well-formed token carries.
pub fn token_ca_sha256(text: &str) -> Result<String, JoinError> {
    parse(text).map(|t| t.ca_sha256.to_string())
}

fn sha256_hex(s: &str) -> String {
    hex::encode(Sha256::digest(s.as_bytes()))
}

fn random_hex(bytes: usize) -> Result<String, NodesError> {
    let mut buf = vec![0u8; bytes];
    getrandom::fill(&mut buf).map_err(|e| NodesError::Random(e.to_string()))?;
    Ok(hex::encode(buf))
}

pub struct TokenStore {
    state: StateDir,
}

impl TokenStore {
    pub fn open(state: &StateDir) -> TokenStore {
        TokenStore {
            state: state.clone(),
        }
    }

    fn path(&self) -> PathBuf {
        self.state.nodes().join("tokens.json")
    }

    /// A new token valid for `ttl`; returns its text (shown once, stored only hashed).
    pub fn create(
        &self,
        name: Option<String>,
        labels: BTreeMap<String, String>,
        ttl: Duration,
    ) -> Result<String, NodesError> {
        let ca_path = self.state.certs().join("ca.pem");
        let ca_pem = match std::fs::read_to_string(&ca_path) {
            Ok(pem) => pem,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(NodesError::NoCa(ca_path));
            }
            Err(e) => return Err(NodesError::io(&ca_path)(e)),
        };
        let ca_sha = ca_sha256_of_pem(&ca_pem)?;
        let _lock = store_file::lock(&self.state.nodes())?;
        let mut file: TokenFile = store_file::read_json(&self.path())?;
        let mut id = random_hex(4)?;
        while file.tokens.iter().any(|t| t.info.id == id) {
            id = random_hex(4)?;
        }
        let secret = random_hex(16)?;
        let now = now_ms();
        let ttl_ms = i64::try_from(ttl.as_millis()).unwrap_or(i64::MAX);
        file.tokens.push(StoredToken {
            info: TokenInfo {
                id: id.clone(),
                name,
                labels,
                created_at_ms: now,
                expires_at_ms: now.saturating_add(ttl_ms),
                used_by: None,
                revoked: false,
            },
            secret_sha256: sha256_hex(&secret),
        });
        forget_old(&mut file, now);
        store_file::write_json(&self.path(), &file)?;
        Ok(format!("{PREFIX}.{id}.{secret}.{ca_sha}"))
    }

    /// Every token still remembered, oldest first, without secrets.
    pub fn list(&self) -> Result<Vec<TokenInfo>, NodesError> {
        let file: TokenFile = store_file::read_json(&self.path())?;
        Ok(file.tokens.into_iter().map(|t| t.info).collect())
    }

    /// Revokes token `id`; `false` when no such token exists.
    pub fn revoke(&self, id: &str) -> Result<bool, NodesError> {
        let _lock = store_file::lock(&self.state.nodes())?;
        let mut file: TokenFile = store_file::read_json(&self.path())?;
        let Some(token) = file.tokens.iter_mut().find(|t| t.info.id == id) else {
            return Ok(false);
        };
        token.info.revoked = true;
        store_file::write_json(&self.path(), &file)?;
        Ok(true)
    }

    /// Spends the token on a node named by the token or, failing that, `id`.
    pub fn consume(&self, token_text: &str) -> Result<JoinGrant, JoinError> {
        let _lock = store_file::lock(&self.state.nodes())?;
        let mut file = self.load_locked()?;
        let grant = self.check_locked(&file, token_text)?;
        let used_by = grant.name.clone().unwrap_or_else(|| grant.id.clone());
        mark_used(&mut file, &grant.id, &used_by);
        self.save_locked(&file)?;
        Ok(grant)
    }

    /// The store's file; the caller holds the `nodes/` lock.
    pub(crate) fn load_locked(&self) -> Result<TokenFile, NodesError> {
        store_file::read_json(&self.path())
    }

    pub(crate) fn save_locked(&self, file: &TokenFile) -> Result<(), NodesError> {
        store_file::write_json(&self.path(), file)
    }

    /// Whether `token_text` may join now, without spending it.
    pub(crate) fn check_locked(
        &self,
        file: &TokenFile,
        token_text: &str,
    ) -> Result<JoinGrant, JoinError> {
        let parsed = parse(token_text)?;
        let Some(stored) = file.tokens.iter().find(|t| t.info.id == parsed.id) else {
            return Err(JoinError::UnknownToken);
        };
        let presented = sha256_hex(parsed.secret);
        if !bool::from(presented.as_bytes().ct_eq(stored.secret_sha256.as_bytes())) {
            // A wrong secret says no more than an unknown id.
            return Err(JoinError::UnknownToken);
        }
        if stored.info.revoked {
            return Err(JoinError::RevokedToken);
        }
        if let Some(node) = &stored.info.used_by {
            return Err(JoinError::UsedToken(node.clone()));
        }
        if now_ms() >= stored.info.expires_at_ms {
            return Err(JoinError::ExpiredToken);
        }
        let ca_path = self.state.certs().join("ca.pem");
        let ca_pem = std::fs::read_to_string(&ca_path).map_err(NodesError::io(&ca_path))?;
        if ca_sha256_of_pem(&ca_pem)? != parsed.ca_sha256 {
            return Err(JoinError::WrongCa);
        }
        Ok(JoinGrant {
            id: stored.info.id.clone(),
            name: stored.info.name.clone(),
            labels: stored.info.labels.clone(),
        })
    }
}

pub(crate) fn mark_used(file: &mut TokenFile, id: &str, node: &str) {
    if let Some(token) = file.tokens.iter_mut().find(|t| t.info.id == id) {
        token.info.used_by = Some(node.to_string());
    }
}

fn forget_old(file: &mut TokenFile, now: i64) {
    file.tokens
        .retain(|t| now.saturating_sub(t.info.expires_at_ms) < KEEP_SPENT_MS);
}
