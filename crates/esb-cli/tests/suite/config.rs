//! Settings from flags, `ESB_*` variables and `esb.toml`, in that order of precedence;
//! the template found as the original ESB found it (`--template`, `ESB_TEMPLATE`,
//! `./template.yaml`, the nearest one above); `esb config` saying where each value
//! came from; and `esb up` actually serving on the port the file names.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use serde_json::Value;

use crate::support;

/// A temporary project: a template over the test functions, and a state dir whose
/// Python runtime is the test venv.
struct Project {
    dir: PathBuf,
}

impl Project {
    fn new(name: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("esb-config-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("src/deep")).expect("project dir");
        let template = format!(
            "Resources:\n  Echo:\n    Type: AWS::Serverless::Function\n    Properties:\n      \
             FunctionName: echo\n      Runtime: python3.11\n      Handler: handlers.api\n      \
             CodeUri: {}\n      Events:\n        Get: {{Type: Api, Properties: {{Path: /echo, Method: get}}}}\n",
            support::python_functions().display()
        );
        std::fs::write(dir.join("template.yaml"), template).expect("template");
        Self { dir }
    }

    fn settings(&self, text: &str) -> &Self {
        std::fs::write(self.dir.join("esb.toml"), text).expect("esb.toml");
        self
    }

    /// `esb <args>` run in `cwd` with `env` and none of the caller's own settings.
    fn esb(&self, cwd: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
        isolated(support::esb_command())
            .args(args)
            .current_dir(cwd)
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .output()
            .expect("run esb")
    }

    /// `esb config --json` run in `cwd`; fails the test if it fails.
    fn config(&self, cwd: &Path, args: &[&str], env: &[(&str, &str)]) -> Value {
        let out = self.esb(cwd, &[&["config", "--json"], args].concat(), env);
        assert!(out.status.success(), "esb config: {}", text(&out.stderr));
        serde_json::from_slice(&out.stdout).expect("esb config --json prints JSON")
    }
}

impl Drop for Project {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The command without any setting variable the test runner may have exported, but
/// with the suite's data-service ports at 0 (see `support::esb_command`):
/// a box started here must not take a service's default port from a box of another test.
fn isolated(mut cmd: Command) -> Command {
    for (key, _) in std::env::vars_os() {
        let key = key.to_string_lossy();
        if key.starts_with("ESB_")
            || [
                "AUTH_USER",
                "AUTH_PASS",
                "X_API_KEY",
                "JWT_SECRET_KEY",
                "JWT_EXPIRES_DELTA",
                "CIRCUIT_BREAKER_THRESHOLD",
                "CIRCUIT_BREAKER_RECOVERY_TIMEOUT",
            ]
            .contains(&key.as_ref())
        {
            cmd.env_remove(key.as_ref());
        }
    }
    cmd.env("ESB_S3_PORT", "0");
    cmd.env("ESB_DYNAMODB_PORT", "0");
    cmd.env("ESB_CLOUDWATCH_LOGS_PORT", "0");
    cmd
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// `(value, source)` of one setting in `esb config --json`.
fn setting(config: &Value, key: &str) -> (Value, String) {
    let row = config["settings"]
        .as_array()
        .and_then(|rows| rows.iter().find(|r| r["setting"] == key))
        .unwrap_or_else(|| panic!("no setting {key} in {config:#}"));
    (
        row["value"].clone(),
        row["source"].as_str().unwrap_or_default().to_string(),
    )
}

#[test]
fn file_values_show_with_their_line_and_secrets_stay_hidden() {
    let p = Project::new("file");
    p.settings(
        "# box settings\nport = 9443\nruntime = \"process\"\npause_idle_after = 2.5\n\
         api-key = [\"k1\", \"k2\"]\nstate-dir = \"data\"\nlisten = \"127.0.0.1:1\"\n\
         [parameter-overrides]\nStage = \"prod\"\n",
    );
    let config = p.config(&p.dir, &[], &[]);
    assert_eq!(
        config["settings_file"]["path"],
        p.dir.join("esb.toml").display().to_string()
    );
    assert_eq!(
        setting(&config, "port"),
        ("9443".into(), "esb.toml:2".into())
    );
    assert_eq!(
        setting(&config, "runtime"),
        ("process".into(), "esb.toml:3".into())
    );
    assert_eq!(
        setting(&config, "pause-idle-after"),
        ("2.5".into(), "esb.toml:4".into())
    );
    assert_eq!(
        setting(&config, "api-key"),
        (serde_json::json!(["****", "****"]), "esb.toml:5".into())
    );
    // A relative path in the file is relative to the file.
    assert_eq!(
        setting(&config, "state-dir"),
        (
            p.dir.join("data").display().to_string().into(),
            "esb.toml:6".into()
        )
    );
    assert_eq!(
        setting(&config, "parameter-overrides"),
        (serde_json::json!(["Stage=prod"]), "esb.toml:8".into())
    );
    assert_eq!(
        setting(&config, "region"),
        ("us-east-1".into(), "default".into())
    );
    // `listen` belongs to `esb agent`: listed, not lost.
    assert_eq!(config["other_commands"][0]["setting"], "listen");

    // The table says the same.
    let out = p.esb(&p.dir, &["config"], &[]);
    let table = text(&out.stdout);
    assert!(
        table
            .lines()
            .any(|l| l.starts_with("port ") && l.contains("9443") && l.contains("esb.toml:2")),
        "{table}"
    );
    assert!(
        !table.contains("k1"),
        "secrets must not be printed: {table}"
    );
}

#[test]
fn env_beats_file_and_flag_beats_env() {
    let p = Project::new("precedence");
    p.settings("port = 9443\nopen-invoke-api = false\n");
    let config = p.config(
        &p.dir,
        &[],
        &[("ESB_PORT", "9000"), ("ESB_OPEN_INVOKE_API", "1")],
    );
    assert_eq!(
        setting(&config, "port"),
        ("9000".into(), "env ESB_PORT".into())
    );
    assert_eq!(
        setting(&config, "open-invoke-api").1,
        "env ESB_OPEN_INVOKE_API"
    );
    let config = p.config(&p.dir, &["--port", "9100"], &[("ESB_PORT", "9000")]);
    assert_eq!(setting(&config, "port"), ("9100".into(), "flag".into()));
    // The original ESB's variable names still work, and secrets stay hidden.
    let config = p.config(&p.dir, &[], &[("AUTH_PASS", "hunter2")]);
    assert_eq!(
        setting(&config, "auth-password"),
        ("****".into(), "env AUTH_PASS".into())
    );
}

/// The original ESB's breaker variables stand in for ESB's own: above esb.toml,
/// below `ESB_*` and flags, and `esb config` names them.
#[test]
fn the_original_esbs_breaker_variables_are_honoured() {
    let p = Project::new("original-breaker");
    p.settings("breaker-threshold = 9\nbreaker-cooldown = 20\n");
    let original = [
        ("CIRCUIT_BREAKER_THRESHOLD", "3"),
        ("CIRCUIT_BREAKER_RECOVERY_TIMEOUT", "10.0"),
    ];
    let config = p.config(&p.dir, &[], &original);
    assert_eq!(
        setting(&config, "breaker-threshold"),
        ("3".into(), "env CIRCUIT_BREAKER_THRESHOLD".into())
    );
    assert_eq!(
        setting(&config, "breaker-cooldown"),
        ("10.0".into(), "env CIRCUIT_BREAKER_RECOVERY_TIMEOUT".into())
    );
    let config = p.config(
        &p.dir,
        &["--breaker-cooldown", "2"],
        &[&original[..], &[("ESB_BREAKER_THRESHOLD", "4")]].concat(),
    );
    assert_eq!(
        setting(&config, "breaker-threshold"),
        ("4".into(), "env ESB_BREAKER_THRESHOLD".into())
    );
    assert_eq!(
        setting(&config, "breaker-cooldown"),
        ("2".into(), "flag".into())
    );
    let config = p.config(&p.dir, &[], &[]);
    assert_eq!(
        setting(&config, "breaker-threshold"),
        ("9".into(), "esb.toml:1".into())
    );
    let table = text(&p.esb(&p.dir, &["config"], &original).stdout);
    assert!(
        table
            .lines()
            .any(|l| l.starts_with("breaker-threshold ")
                && l.contains("env CIRCUIT_BREAKER_THRESHOLD")),
        "{table}"
    );
    let out = p.esb(
        &p.dir,
        &["config"],
        &[("CIRCUIT_BREAKER_THRESHOLD", "many")],
    );
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("CIRCUIT_BREAKER_THRESHOLD=many"),
        "the error names the variable: {}",
        text(&out.stderr)
    );
}

#[test]
fn the_original_esbs_pool_variables_are_honoured() {
    let p = Project::new("original-pool");
    let original = [
        ("POOL_ACQUIRE_TIMEOUT", "5.0"),
        ("GATEWAY_IDLE_TIMEOUT_SECONDS", "120"),
        ("ORPHAN_GRACE_PERIOD_SECONDS", "60"),
    ];
    let config = p.config(&p.dir, &[], &original);
    for (key, (variable, value)) in ["acquire-timeout", "idle-timeout", "orphan-grace"]
        .iter()
        .zip(original)
    {
        assert_eq!(
            setting(&config, key),
            (value.into(), format!("env {variable}")),
            "{key}"
        );
    }
}

#[test]
fn mistakes_in_the_file_name_the_key_the_line_and_a_fix() {
    let p = Project::new("mistakes");
    p.settings("port = 9443\nidle-timout = 3\n");
    for command in [&["config"][..], &["up", "--runtime", "process"][..]] {
        let out = p.esb(&p.dir, command, &[]);
        assert!(!out.status.success(), "{command:?} accepted a bad esb.toml");
        let err = text(&out.stderr);
        let at = format!("{}:2", p.dir.join("esb.toml").display());
        assert!(
            err.contains(&at)
                && err.contains("unknown setting `idle-timout`")
                && err.contains("did you mean `idle-timeout`"),
            "{command:?}: {err}"
        );
    }
    p.settings("runtime = \"dockr\"\n");
    let err = text(&p.esb(&p.dir, &["config"], &[]).stderr);
    assert!(
        err.contains("esb.toml:1") && err.contains("possible values: auto, process, docker"),
        "{err}"
    );
    // A settings file named explicitly must exist.
    let out = p.esb(&p.dir, &["config", "--config", "missing.toml"], &[]);
    assert!(
        !out.status.success() && text(&out.stderr).contains("missing.toml"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn template_from_env_and_from_the_directories_above() {
    let p = Project::new("discovery");
    p.settings("port = 9443\n");
    // From a subdirectory: the template above, and the esb.toml beside it.
    let deep = p.dir.join("src/deep");
    let config = p.config(&deep, &[], &[]);
    let template = p.dir.join("template.yaml").display().to_string();
    assert_eq!(config["template"]["source"], "above");
    assert_eq!(
        setting(&config, "template"),
        (
            template.clone().into(),
            "found above the current directory".into()
        )
    );
    assert_eq!(setting(&config, "port").1, "esb.toml:1");
    // The state dir is beside the template found, not in the current directory.
    assert_eq!(
        setting(&config, "state-dir").0,
        p.dir.join(".esb").display().to_string()
    );

    // ESB_TEMPLATE from anywhere else: that template and its esb.toml.
    let other = Project::new("discovery-other");
    other.settings("port = 7000\n");
    let other_template = other.dir.join("template.yaml").display().to_string();
    let config = p.config(&deep, &[], &[("ESB_TEMPLATE", &other_template)]);
    assert_eq!(config["template"]["source"], "env");
    assert_eq!(
        setting(&config, "template"),
        (other_template.into(), "env ESB_TEMPLATE".into())
    );
    assert_eq!(
        setting(&config, "port"),
        ("7000".into(), "esb.toml:1".into())
    );

    // ESB_CONFIG points elsewhere; the template is still the one found.
    let config = p.config(
        &deep,
        &[],
        &[(
            "ESB_CONFIG",
            &other.dir.join("esb.toml").display().to_string(),
        )],
    );
    assert_eq!(
        setting(&config, "port"),
        ("7000".into(), "esb.toml:1".into())
    );
    assert_eq!(setting(&config, "template").0, Value::from(template));

    // Validation follows the same discovery.
    let out = p.esb(&deep, &["validate"], &[]);
    assert!(out.status.success(), "esb validate: {}", text(&out.stderr));
}

#[test]
fn up_serves_on_the_port_from_esb_toml() {
    let p = Project::new("up");
    std::fs::create_dir_all(p.dir.join(".esb/runtimes")).expect("state dir");
    std::os::unix::fs::symlink(
        support::python()
            .parent()
            .and_then(Path::parent)
            .expect("venv"),
        p.dir.join(".esb/runtimes/python"),
    )
    .expect("link venv");
    let port = support::free_addr().port();
    p.settings(&format!("port = {port}\nruntime = \"process\"\n"));
    // Started from a subdirectory: template, esb.toml and .esb are found above.
    let mut child = isolated(support::esb_command())
        .arg("up")
        .current_dir(p.dir.join("src/deep"))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("esb up");
    let output = support::capture_output(&mut child);
    let state = p.dir.join(".esb");
    let client = std::panic::catch_unwind(|| {
        support::https_client_within(&state, port, Duration::from_secs(300))
    });
    let client = match client {
        Ok(c) => c,
        Err(e) => {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "esb up did not serve on port {port} from esb.toml: {:?}\n{}",
                e.downcast_ref::<String>(),
                output.lock().map(|l| l.join("\n")).unwrap_or_default()
            );
        }
    };
    let answer = client
        .get(format!("https://127.0.0.1:{port}/echo"))
        .send()
        .expect("GET /echo");
    let status = answer.status().as_u16();
    let body = answer.text().unwrap_or_default();
    let stopped = support::terminate(&mut child, Duration::from_secs(30));
    assert_eq!(status, 200, "{body}");
    let body: Value = serde_json::from_str(&body).unwrap_or(Value::String(body));
    assert_eq!(body["event"]["path"], "/echo", "{body}");
    assert!(
        stopped.success(),
        "esb up did not stop cleanly: {stopped:?}"
    );
}
