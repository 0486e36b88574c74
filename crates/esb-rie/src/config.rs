//! Who the emulated function is (name, memory, timeout, handler, region...) and the
//! environment Lambda gives its runtime. Read from the same variables AWS's RIE reads,
//! so a worker configured for one works under the other.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use esb_lambda::headers::WORKER_TOKEN_VAR;

/// The account in `invoked_function_arn` when none is configured: AWS's emulator's, so
/// `esb rie` alone is a drop-in for it (`esb up` passes the template's account).
pub const DEFAULT_ACCOUNT_ID: &str = "012345678912";

#[derive(Debug, Clone)]
pub struct FunctionConfig {
    pub name: String,
    pub version: String,
    pub memory_mb: u32,
    pub timeout: Duration,
    pub handler: Option<String>,
    pub region: String,
    pub account_id: String,
    pub task_root: PathBuf,
    pub log_group: String,
    pub log_stream: String,
    /// `ESB_WORKER_TOKEN`: set by ESB's agent; an invoke carrying another token in
    /// `X-Esb-Worker-Token` was meant for another worker (an address reused after a
    /// worker died) and is refused, undelivered. Never passed to the runtime.
    pub worker_token: Option<String>,
    /// Serve the Invoke API over mutual TLS (a worker on a node of another machine).
    pub tls: Option<crate::worker_tls::TlsFiles>,
    /// `LoggingConfig.SystemLogLevel` (`ESB_SYSTEM_LOG_LEVEL`): platform lines below it
    /// (START, END and REPORT are INFO) are not written, as in Lambda.
    pub system_log_level: Option<String>,
    /// Where the worker's log records go (`ESB_LOGS_URL`); `None`: stdout only.
    pub log_shipping: Option<LogShippingConfig>,
}

/// Set by the box for its workers: the ingestion endpoint, its token, the CA that
/// signs it, the spool for batches it cannot take yet, and the worker's id.
#[derive(Debug, Clone)]
pub struct LogShippingConfig {
    pub url: String,
    pub token: Option<String>,
    pub ca_file: Option<PathBuf>,
    pub spool_dir: Option<PathBuf>,
    pub worker: String,
    /// `ESB_NODE`: the box's node the worker runs on, a `node` field of its records;
    /// unset on the box's own machine.
    pub node: Option<String>,
}

/// Variables meant for `esb rie` only; the runtime never sees them.
pub const PRIVATE_VARS: [&str; 10] = [
    TLS_CERT_VAR,
    TLS_KEY_VAR,
    TLS_CLIENT_CA_VAR,
    "ESB_SYSTEM_LOG_LEVEL",
    WORKER_TOKEN_VAR,
    "ESB_LOGS_URL",
    "ESB_LOGS_TOKEN",
    "ESB_LOG_SPOOL",
    "ESB_WORKER_ID",
    "ESB_NODE",
];

/// The worker's TLS identity and the CA of its clients (see [`crate::worker_tls`]).
pub const TLS_CERT_VAR: &str = "ESB_TLS_CERT";
pub const TLS_KEY_VAR: &str = "ESB_TLS_KEY";
pub const TLS_CLIENT_CA_VAR: &str = "ESB_TLS_CLIENT_CA";

/// Error in a configuration value; names the variable so the user can fix it.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{var}={value:?} is not valid: {reason}")]
    Invalid {
        var: &'static str,
        value: String,
        reason: &'static str,
    },
}

impl FunctionConfig {
    /// Builds the configuration from an environment (normally the RIE's own), with
    /// AWS RIE's defaults: `test_function`, 3008 MB, 300 s, `us-east-1`.
    pub fn from_env(env: &BTreeMap<String, String>) -> Result<Self, ConfigError> {
        let get = |k: &str| env.get(k).filter(|v| !v.is_empty()).cloned();
        let name = get("AWS_LAMBDA_FUNCTION_NAME").unwrap_or_else(|| "test_function".into());
        let version = get("AWS_LAMBDA_FUNCTION_VERSION").unwrap_or_else(|| "$LATEST".into());
        let memory_mb = match get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE") {
            Some(v) => parse_bounded("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", &v, 128, 10240)?,
            None => 3008,
        };
        let timeout_s = match get("AWS_LAMBDA_FUNCTION_TIMEOUT") {
            Some(v) => parse_bounded("AWS_LAMBDA_FUNCTION_TIMEOUT", &v, 1, 900)?,
            None => 300,
        };
        let region = get("AWS_REGION")
            .or_else(|| get("AWS_DEFAULT_REGION"))
            .unwrap_or_else(|| "us-east-1".into());
        let account_id = get("AWS_ACCOUNT_ID").unwrap_or_else(|| DEFAULT_ACCOUNT_ID.into());
        if account_id.len() != 12 || !account_id.bytes().all(|b| b.is_ascii_digit()) {
            return Err(ConfigError::Invalid {
                var: "AWS_ACCOUNT_ID",
                value: account_id,
                reason: "an account id is 12 digits",
            });
        }
        // Like AWS's emulator: without LAMBDA_TASK_ROOT the runtime runs where `esb rie`
        // was started (images set it to /var/task; a host's /var/task is not a hint).
        let task_root = get("LAMBDA_TASK_ROOT")
            .map(PathBuf::from)
            .or_else(|| std::env::current_dir().ok())
            .unwrap_or_else(|| PathBuf::from("."));
        let log_group =
            get("AWS_LAMBDA_LOG_GROUP_NAME").unwrap_or_else(|| format!("/aws/lambda/{name}"));
        let log_stream =
            get("AWS_LAMBDA_LOG_STREAM_NAME").unwrap_or_else(|| new_log_stream_name(&version));
        let log_shipping = get("ESB_LOGS_URL").map(|url| LogShippingConfig {
            url,
            token: get("ESB_LOGS_TOKEN"),
            ca_file: get("AWS_CA_BUNDLE").map(PathBuf::from),
            spool_dir: get("ESB_LOG_SPOOL").map(PathBuf::from),
            // Lambda's name for one execution environment when the box gave none.
            worker: get("ESB_WORKER_ID").unwrap_or_else(|| log_stream.clone()),
            node: get("ESB_NODE"),
        });
        Ok(Self {
            handler: get("_HANDLER").or_else(|| get("AWS_LAMBDA_FUNCTION_HANDLER")),
            name,
            version,
            memory_mb,
            timeout: Duration::from_secs(timeout_s.into()),
            region,
            account_id,
            task_root,
            log_group,
            log_stream,
            worker_token: get(WORKER_TOKEN_VAR),
            tls: match (get(TLS_CERT_VAR), get(TLS_KEY_VAR), get(TLS_CLIENT_CA_VAR)) {
                (Some(cert), Some(key), Some(client_ca)) => Some(crate::worker_tls::TlsFiles {
                    cert: cert.into(),
                    key: key.into(),
                    client_ca: client_ca.into(),
                }),
                (None, None, None) => None,
                (cert, ..) => {
                    return Err(ConfigError::Invalid {
                        var: TLS_CERT_VAR,
                        value: cert.unwrap_or_default(),
                        reason: "ESB_TLS_CERT, ESB_TLS_KEY and ESB_TLS_CLIENT_CA go together",
                    });
                }
            },
            log_shipping,
            system_log_level: get("ESB_SYSTEM_LOG_LEVEL"),
        })
    }

    /// The ARN a runtime sees as `invoked_function_arn`; a qualified invoke adds `:<qualifier>`.
    pub fn invoked_arn(&self, qualifier: Option<&str>) -> String {
        let base = format!(
            "arn:aws:lambda:{}:{}:function:{}",
            self.region, self.account_id, self.name
        );
        match qualifier {
            Some(q) => format!("{base}:{q}"),
            None => base,
        }
    }

    /// The variables Lambda sets for a runtime. Reserved ones always win over the
    /// inherited environment (as in Lambda); `TZ` is only a default.
    pub fn runtime_env(&self, runtime_api: &str) -> Vec<(String, String)> {
        let mut vars: Vec<(String, String)> = vec![
            ("AWS_LAMBDA_FUNCTION_NAME".into(), self.name.clone()),
            ("AWS_LAMBDA_FUNCTION_VERSION".into(), self.version.clone()),
            (
                "AWS_LAMBDA_FUNCTION_MEMORY_SIZE".into(),
                self.memory_mb.to_string(),
            ),
            (
                "AWS_LAMBDA_FUNCTION_TIMEOUT".into(),
                self.timeout.as_secs().to_string(),
            ),
            ("AWS_LAMBDA_LOG_GROUP_NAME".into(), self.log_group.clone()),
            ("AWS_LAMBDA_LOG_STREAM_NAME".into(), self.log_stream.clone()),
            ("AWS_LAMBDA_INITIALIZATION_TYPE".into(), "on-demand".into()),
            ("AWS_LAMBDA_RUNTIME_API".into(), runtime_api.to_string()),
            ("AWS_REGION".into(), self.region.clone()),
            ("AWS_DEFAULT_REGION".into(), self.region.clone()),
            (
                "LAMBDA_TASK_ROOT".into(),
                self.task_root.display().to_string(),
            ),
            ("LAMBDA_RUNTIME_DIR".into(), "/var/runtime".into()),
        ];
        if let Some(h) = &self.handler {
            vars.push(("_HANDLER".into(), h.clone()));
        }
        if std::env::var_os("TZ").is_none() {
            vars.push(("TZ".into(), ":UTC".into()));
        }
        vars
    }
}

fn parse_bounded(var: &'static str, value: &str, min: u32, max: u32) -> Result<u32, ConfigError> {
    match value.trim().parse::<u32>() {
        Ok(n) if (min..=max).contains(&n) => Ok(n),
        _ => Err(ConfigError::Invalid {
            var,
            value: value.to_string(),
            reason: if max == 900 {
                "a timeout is a whole number of seconds from 1 to 900"
            } else {
                "a memory size is a whole number of MB from 128 to 10240"
            },
        }),
    }
}

/// Lambda's stream naming: `YYYY/MM/DD/[<version>]<32 hex>`, one per execution environment.
fn new_log_stream_name(version: &str) -> String {
    let today = time::OffsetDateTime::now_utc().date();
    format!(
        "{:04}/{:02}/{:02}/[{version}]{}",
        today.year(),
        u8::from(today.month()),
        today.day(),
        uuid::Uuid::new_v4().simple()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn defaults_match_aws_rie() {
        let c = FunctionConfig::from_env(&env(&[])).expect("defaults");
        assert_eq!(c.name, "test_function");
        assert_eq!(c.memory_mb, 3008);
        assert_eq!(c.timeout, Duration::from_secs(300));
        assert_eq!(c.log_group, "/aws/lambda/test_function");
        assert!(c.log_stream.contains("/[$LATEST]"), "{}", c.log_stream);
        assert_eq!(
            c.invoked_arn(None),
            "arn:aws:lambda:us-east-1:012345678912:function:test_function"
        );
        // Where `esb rie` was started, even on a host that has a /var/task folder.
        assert_eq!(Some(c.task_root), std::env::current_dir().ok());
    }

    #[test]
    fn env_overrides_and_arn() {
        let c = FunctionConfig::from_env(&env(&[
            ("AWS_LAMBDA_FUNCTION_NAME", "orders"),
            ("AWS_LAMBDA_FUNCTION_TIMEOUT", "3"),
            ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256"),
            ("AWS_REGION", "ap-northeast-1"),
            ("AWS_ACCOUNT_ID", "000000000042"),
            ("_HANDLER", "app.handler"),
        ]))
        .expect("valid");
        assert_eq!(c.timeout, Duration::from_secs(3));
        assert_eq!(
            c.invoked_arn(Some("$LATEST")),
            "arn:aws:lambda:ap-northeast-1:000000000042:function:orders:$LATEST"
        );
        let vars = c.runtime_env("127.0.0.1:9001");
        let get = |k: &str| vars.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
        assert_eq!(get("_HANDLER"), Some("app.handler"));
        assert_eq!(get("AWS_DEFAULT_REGION"), Some("ap-northeast-1"));
        assert_eq!(get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE"), Some("256"));
        assert_eq!(get("AWS_LAMBDA_RUNTIME_API"), Some("127.0.0.1:9001"));
    }

    #[test]
    fn bad_values_name_the_variable() {
        for (var, value) in [
            ("AWS_LAMBDA_FUNCTION_TIMEOUT", "0"),
            ("AWS_LAMBDA_FUNCTION_TIMEOUT", "abc"),
            ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "64"),
            ("AWS_ACCOUNT_ID", "12"),
        ] {
            let err = FunctionConfig::from_env(&env(&[(var, value)])).expect_err(var);
            assert!(err.to_string().contains(var), "{err}");
        }
    }
}
