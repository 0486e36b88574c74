//! Join tokens: one use, a lifetime, revocation, and the CA they were made under.

use std::collections::BTreeMap;
use std::time::Duration;

use esb_nodes::{JoinError, TokenStore};

use crate::support::{TestBox, new_ca};

const HOUR: Duration = Duration::from_secs(3600);

fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[test]
fn a_token_joins_once_and_its_secret_is_not_stored() {
    let b = TestBox::new();
    let store = TokenStore::open(&b.state);
    let token = store
        .create(Some("edge-1".into()), labels(&[("zone", "a")]), HOUR)
        .unwrap();
    let parts: Vec<&str> = token.split('.').collect();
    assert_eq!(parts.len(), 4, "{token}");
    assert_eq!(parts[0], "esbjoin1");
    assert_eq!(
        (parts[1].len(), parts[2].len(), parts[3].len()),
        (8, 32, 64)
    );
    let file = std::fs::read_to_string(b.state.nodes().join("tokens.json")).unwrap();
    assert!(
        !file.contains(parts[2]),
        "only a hash of the secret is kept"
    );

    let listed = store.list().unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].id, parts[1]);
    assert_eq!(listed[0].name.as_deref(), Some("edge-1"));
    assert_eq!(listed[0].expires_at_ms - listed[0].created_at_ms, 3_600_000);

    let grant = store.consume(&token).unwrap();
    assert_eq!(grant.id, parts[1]);
    assert_eq!(grant.name.as_deref(), Some("edge-1"));
    assert_eq!(grant.labels, labels(&[("zone", "a")]));
    let again = store.consume(&token).unwrap_err();
    assert!(
        matches!(again, JoinError::UsedToken(ref n) if n == "edge-1"),
        "{again}"
    );
    assert_eq!(again.status(), 401);
    assert_eq!(store.list().unwrap()[0].used_by.as_deref(), Some("edge-1"));
}

#[test]
fn expired_revoked_unknown_and_malformed_tokens_are_refused_for_what_they_are() {
    let b = TestBox::new();
    let store = TokenStore::open(&b.state);

    let expired = store.create(None, BTreeMap::new(), Duration::ZERO).unwrap();
    let e = store.consume(&expired).unwrap_err();
    assert!(matches!(e, JoinError::ExpiredToken), "{e}");
    assert_eq!((e.status(), e.code()), (401, "ExpiredToken"));

    let revoked = store.create(None, BTreeMap::new(), HOUR).unwrap();
    let id = revoked.split('.').nth(1).unwrap();
    assert!(store.revoke(id).unwrap());
    assert!(!store.revoke("00000000").unwrap(), "no such token");
    let e = store.consume(&revoked).unwrap_err();
    assert!(matches!(e, JoinError::RevokedToken), "{e}");
    assert!(
        store
            .list()
            .unwrap()
            .iter()
            .any(|t| t.id == id && t.revoked)
    );

    // Right id, wrong secret: no different from an unknown token.
    let good = store.create(None, BTreeMap::new(), HOUR).unwrap();
    let mut parts: Vec<String> = good.split('.').map(String::from).collect();
    parts[2] = "0".repeat(32);
    let e = store.consume(&parts.join(".")).unwrap_err();
    assert!(matches!(e, JoinError::UnknownToken), "{e}");
    parts[1] = "ffffffff".into();
    let e = store.consume(&parts.join(".")).unwrap_err();
    assert!(matches!(e, JoinError::UnknownToken), "{e}");
    assert_eq!(e.status(), 401);

    for bad in [
        "",
        "esbjoin1",
        "esbjoin2.abcdef01.0123456789abcdef0123456789abcdef."
            .to_string()
            .as_str(),
        &good.replace("esbjoin1", "esbjoin2"),
        &format!("{good}.extra"),
        &good.to_uppercase(),
    ] {
        let e = store.consume(bad).unwrap_err();
        assert!(matches!(e, JoinError::MalformedToken(_)), "{bad:?}: {e}");
        assert_eq!((e.status(), e.code()), (400, "MalformedToken"));
    }
    // The good token was not spent by its forgeries.
    store.consume(&good).unwrap();
}

#[test]
fn a_token_made_under_a_ca_the_box_no_longer_has_is_refused() {
    let b = TestBox::new();
    let store = TokenStore::open(&b.state);
    let token = store.create(None, BTreeMap::new(), HOUR).unwrap();
    let (other, key, _) = new_ca("ESB local CA");
    std::fs::write(b.state.certs().join("ca.pem"), other).unwrap();
    std::fs::write(b.state.certs().join("ca-key.pem"), key).unwrap();
    let e = store.consume(&token).unwrap_err();
    assert!(matches!(e, JoinError::WrongCa), "{e}");
    assert_eq!((e.status(), e.code()), (401, "WrongCaFingerprint"));
}

#[test]
fn a_box_without_a_ca_cannot_make_tokens() {
    let dir = tempfile::tempdir().unwrap();
    let state = esb_state::StateDir::new(dir.path());
    let e = TokenStore::open(&state)
        .create(None, BTreeMap::new(), HOUR)
        .unwrap_err();
    assert!(e.to_string().contains("esb up"), "{e}");
}

#[test]
fn concurrent_token_makers_lose_no_token() {
    let b = TestBox::new();
    let threads: Vec<_> = (0..8)
        .map(|_| {
            let state = b.state.clone();
            std::thread::spawn(move || {
                let store = TokenStore::open(&state);
                (0..5)
                    .map(|_| store.create(None, BTreeMap::new(), HOUR).unwrap())
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    let made: Vec<String> = threads
        .into_iter()
        .flat_map(|t| t.join().unwrap())
        .collect();
    let store = TokenStore::open(&b.state);
    assert_eq!(store.list().unwrap().len(), 40);
    for token in made {
        store.consume(&token).unwrap();
    }
}
