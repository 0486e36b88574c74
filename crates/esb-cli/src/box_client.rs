//! ESB's own client of a running box (`esb status`, `esb invoke`): finds it through
//! `<state>/box.json`, trusts its CA and signs requests with its key, as any AWS SDK
//! client would.

use std::path::Path;
use std::time::{Duration, SystemTime};

use anyhow::{Context, Result, anyhow};
use esb_auth::{BoxCredentials, SignedRequest, sign_headers};
use esb_gateway::certs::CertPaths;
use esb_state::StateDir;

use crate::box_state::BoxState;

pub struct BoxClient {
    pub state: BoxState,
    credentials: BoxCredentials,
    http: reqwest::blocking::Client,
}

/// No box runs on the state dir (exit code 3, as `systemctl status` uses).
#[derive(Debug, thiserror::Error)]
#[error("no box is running on {0}; start one with `esb up` (or `esb up --detach`)")]
pub struct NotRunning(pub String);

impl BoxClient {
    pub fn connect(state_dir: &Path, timeout: Duration) -> Result<Self> {
        let layout = StateDir::new(state_dir);
        let state = crate::box_state::read(&layout)
            .ok_or_else(|| anyhow!(NotRunning(state_dir.display().to_string())))?;
        let credentials = esb_auth::load_or_issue(&layout.credentials())?;
        let ca_path = CertPaths::under(&layout).ca;
        let ca = std::fs::read(&ca_path)
            .with_context(|| format!("cannot read the box CA {}", ca_path.display()))?;
        let http = reqwest::blocking::Client::builder()
            .add_root_certificate(reqwest::Certificate::from_pem(&ca).context("the box CA")?)
            .timeout(timeout)
            .build()
            .context("cannot build an HTTPS client")?;
        Ok(Self {
            state,
            credentials,
            http,
        })
    }

    /// The box's status document (`GET /esb/v1/status`).
    pub fn status(&self) -> Result<esb_gateway::status::Status> {
        let resp = self.send(
            reqwest::Method::GET,
            esb_gateway::STATUS_PATH,
            &[],
            Vec::new(),
        )?;
        if !resp.status().is_success() {
            anyhow::bail!("the box refused the status request: {}", resp.status());
        }
        resp.json().context("the box's status is not JSON")
    }

    /// Sends a request signed with the box's key; `path` includes any query.
    pub fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        headers: &[(&str, &str)],
        body: Vec<u8>,
    ) -> Result<reqwest::blocking::Response> {
        let url = format!("{}{path}", self.state.url);
        let mut map = reqwest::header::HeaderMap::new();
        for (k, v) in headers {
            map.insert(
                reqwest::header::HeaderName::from_bytes(k.as_bytes())?,
                reqwest::header::HeaderValue::from_str(v)?,
            );
        }
        let mut signing = map.clone();
        signing.insert(
            reqwest::header::HOST,
            reqwest::header::HeaderValue::from_str(&format!("127.0.0.1:{}", self.state.port))?,
        );
        let signed = sign_headers(
            &self.credentials,
            &self.state.region,
            "lambda",
            &SignedRequest {
                method: method.as_str(),
                uri: &url,
                headers: &signing,
                body: &body,
            },
            SystemTime::now(),
        )?;
        for (k, v) in signed {
            map.insert(
                reqwest::header::HeaderName::from_bytes(k.as_bytes())?,
                reqwest::header::HeaderValue::from_str(&v)?,
            );
        }
        self.http
            .request(method, &url)
            .headers(map)
            .body(body)
            .send()
            .with_context(|| format!("the box at {} does not answer", self.state.url))
    }
}
