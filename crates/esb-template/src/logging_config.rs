//! A function's `LoggingConfig`, with `Globals.Function.LoggingConfig` merged key by key
//! (the function's keys win). Lambda gives it to the runtime as environment variables,
//! which is all a runtime sees of it, so ESB turns it into the same variables (plus
//! [`SYSTEM_LOG_LEVEL_VAR`] for ESB's own platform lines). CloudFormation's checks
//! (exact, case-sensitive values; log levels only with JSON) are made here, so a
//! mistake is reported at its line instead of at deploy time.

use crate::error::{ErrorKind, TemplateError};
use crate::intrinsics::{Resolver, looks_like_call};
use crate::value::Value;
use crate::yaml_tree::{Entry, Position};

/// `Text` or `JSON`, as Lambda sets it.
pub const LOG_FORMAT_VAR: &str = "AWS_LAMBDA_LOG_FORMAT";
/// `ApplicationLogLevel`, as Lambda sets it.
pub const LOG_LEVEL_VAR: &str = "AWS_LAMBDA_LOG_LEVEL";
/// `LogGroup`, as Lambda sets it.
pub const LOG_GROUP_VAR: &str = "AWS_LAMBDA_LOG_GROUP_NAME";
/// `SystemLogLevel`: Lambda applies it to its own platform lines; ESB's emulator reads
/// it from here to do the same.
pub const SYSTEM_LOG_LEVEL_VAR: &str = "ESB_SYSTEM_LOG_LEVEL";

const LOG_FORMAT: &str = "LogFormat";
const APPLICATION_LOG_LEVEL: &str = "ApplicationLogLevel";
const SYSTEM_LOG_LEVEL: &str = "SystemLogLevel";
const LOG_GROUP: &str = "LogGroup";
const KEYS: [&str; 4] = [
    LOG_FORMAT,
    APPLICATION_LOG_LEVEL,
    SYSTEM_LOG_LEVEL,
    LOG_GROUP,
];

const FORMATS: [&str; 2] = ["Text", "JSON"];
const APPLICATION_LEVELS: [&str; 6] = ["TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL"];
const SYSTEM_LEVELS: [&str; 3] = ["DEBUG", "INFO", "WARN"];
/// Lambda's limit on a log group name.
const LOG_GROUP_CHARS: usize = 512;

const HINT: &str = "e.g. LoggingConfig: {LogFormat: JSON, ApplicationLogLevel: INFO, SystemLogLevel: WARN, LogGroup: /aws/lambda/orders}";

/// One key of a `LoggingConfig` as written: `None` is `AWS::NoValue`.
struct Field {
    key: String,
    value: Option<Value>,
    at: Position,
    path: String,
}

/// The environment variables for the `LoggingConfig` in Globals (`global`) and on the
/// function (`own`), each with its path. Empty when neither sets anything.
pub fn variables(
    r: &Resolver<'_>,
    global: Option<(&Entry, String)>,
    own: Option<(&Entry, String)>,
) -> Result<Vec<(&'static str, String)>, TemplateError> {
    let mut fields: Vec<Field> = Vec::new();
    if let Some((entry, path)) = global {
        fields = read(r, entry, &path)?.unwrap_or_default();
    }
    if let Some((entry, path)) = own {
        match read(r, entry, &path)? {
            // The function's `AWS::NoValue` removes the property, global keys included.
            None => fields.clear(),
            Some(own) => {
                for f in own {
                    fields.retain(|g| g.key != f.key);
                    fields.push(f);
                }
            }
        }
    }

    let mut format = None;
    let mut levels = Vec::new();
    let mut out = Vec::new();
    for f in &fields {
        let Some(value) = &f.value else { continue };
        let text = value.as_text().ok_or_else(|| {
            r.error(
                f.at,
                &f.path,
                ErrorKind::InvalidValue(format!("must be a string, not {}", value.shape())),
                HINT,
            )
        })?;
        match f.key.as_str() {
            LOG_FORMAT => {
                one_of(r, f, &text, &FORMATS)?;
                format = Some(text.clone());
                out.push((LOG_FORMAT_VAR, text));
            }
            APPLICATION_LOG_LEVEL => {
                one_of(r, f, &text, &APPLICATION_LEVELS)?;
                levels.push(f);
                out.push((LOG_LEVEL_VAR, text));
            }
            SYSTEM_LOG_LEVEL => {
                one_of(r, f, &text, &SYSTEM_LEVELS)?;
                levels.push(f);
                out.push((SYSTEM_LOG_LEVEL_VAR, text));
            }
            _ => {
                check_log_group(r, f, &text)?;
                out.push((LOG_GROUP_VAR, text));
            }
        }
    }
    if format.as_deref() != Some("JSON")
        && let Some(level) = levels.first()
    {
        let why = match format {
            Some(_) => "LogFormat is Text",
            None => "LogFormat defaults to Text",
        };
        return Err(r.error(
            level.at,
            &level.path,
            ErrorKind::InvalidValue(format!("{} needs LogFormat: JSON ({why})", level.key)),
            format!(
                "set LogFormat: JSON, or remove {}: Lambda filters by level only JSON logs",
                level.key
            ),
        ));
    }
    Ok(out)
}

/// The keys of one `LoggingConfig`; `None` when it is `AWS::NoValue`. Written-out keys
/// are resolved one by one so errors point at the key.
fn read(r: &Resolver<'_>, entry: &Entry, path: &str) -> Result<Option<Vec<Field>>, TemplateError> {
    let unknown = |key: &str, at: Position, path: &str| {
        r.error(
            at,
            path,
            ErrorKind::Structure(format!("{key} is not a LoggingConfig key")),
            format!("LoggingConfig has {}", KEYS.join(", ")),
        )
    };
    if entry.value.is_map() && !looks_like_call(&entry.value) {
        let mut fields = Vec::new();
        for e in entry.value.entries() {
            let p = format!("{path}.{}", e.key);
            if !KEYS.contains(&e.key.as_str()) {
                return Err(unknown(&e.key, e.key_pos, &p));
            }
            fields.push(Field {
                key: e.key.clone(),
                value: r.resolve(&e.value, &p)?,
                at: e.key_pos,
                path: p,
            });
        }
        return Ok(Some(fields));
    }
    // Computed by an intrinsic (or not a mapping): resolve the whole thing.
    match r.resolve(&entry.value, path)? {
        None => Ok(None),
        Some(Value::Map(m)) => m
            .into_iter()
            .map(|(key, value)| {
                let p = format!("{path}.{key}");
                if !KEYS.contains(&key.as_str()) {
                    return Err(unknown(&key, entry.key_pos, &p));
                }
                Ok(Field {
                    key,
                    value: Some(value),
                    at: entry.key_pos,
                    path: p,
                })
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Some),
        Some(other) => Err(r.error(
            entry.key_pos,
            path,
            ErrorKind::Structure(format!("must be a mapping, not {}", other.shape())),
            HINT,
        )),
    }
}

/// `text` must be one of `allowed`, exactly: AWS compares these case-sensitively.
fn one_of(r: &Resolver<'_>, f: &Field, text: &str, allowed: &[&str]) -> Result<(), TemplateError> {
    if allowed.contains(&text) {
        return Ok(());
    }
    let hint = match allowed.iter().find(|a| a.eq_ignore_ascii_case(text)) {
        Some(exact) => format!("values are case-sensitive: write {exact}"),
        None => format!("{} is one of {}", f.key, allowed.join(", ")),
    };
    Err(r.error(
        f.at,
        &f.path,
        ErrorKind::InvalidValue(format!("{text:?} is not one of {}", allowed.join(", "))),
        hint,
    ))
}

/// Lambda's rule for a log group name: 1 to 512 of letters, digits and `._-/#`.
fn check_log_group(r: &Resolver<'_>, f: &Field, name: &str) -> Result<(), TemplateError> {
    let valid = !name.is_empty()
        && name.chars().count() <= LOG_GROUP_CHARS
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._-/#".contains(c));
    if valid {
        return Ok(());
    }
    Err(r.error(
        f.at,
        &f.path,
        ErrorKind::InvalidValue(format!("{name:?} is not a valid log group name")),
        format!("use 1 to {LOG_GROUP_CHARS} letters, digits, '.', '_', '-', '/' or '#'"),
    ))
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::path::PathBuf;

    use crate::{LoadOptions, TemplateError, load_str};

    /// Loads `globals` (YAML lines under `Globals.Function`) and one Python function with
    /// `props` (YAML lines at property indentation, from line 14 when `globals` is empty) as if
    /// the template were in `tests/fixtures/valid`, so `../code/python` exists. Gives the
    /// function's environment.
    fn load(globals: &str, props: &str) -> Result<BTreeMap<String, String>, TemplateError> {
        let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/valid/unit.yaml");
        let source = format!(
            "Transform: AWS::Serverless-2016-10-31\nParameters:\n  Level: {{Type: String, Default: DEBUG}}\nGlobals:\n  Function:\n    Timeout: 3\n{globals}Resources:\n  Fn:\n    Type: AWS::Serverless::Function\n    Properties:\n      CodeUri: ../code/python\n      Runtime: python3.12\n      Handler: app.handler\n{props}"
        );
        let t = load_str(&source, &path, &LoadOptions::default())?;
        assert!(
            t.warnings.iter().all(|w| !w.path.contains("LoggingConfig")),
            "{:?}",
            t.warnings
        );
        Ok(t.functions
            .into_iter()
            .next()
            .map(|f| f.environment)
            .unwrap_or_default())
    }

    fn error(globals: &str, props: &str) -> String {
        load(globals, props).expect_err(props).to_string()
    }

    fn vars(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn json_config_becomes_lambdas_variables() {
        let env = load(
            "",
            "      LoggingConfig:\n        LogFormat: JSON\n        ApplicationLogLevel: !Ref Level\n        SystemLogLevel: WARN\n        LogGroup: !Sub /custom/${AWS::StackName}\n",
        )
        .expect("valid");
        assert_eq!(
            env,
            vars(&[
                ("AWS_LAMBDA_LOG_FORMAT", "JSON"),
                ("AWS_LAMBDA_LOG_LEVEL", "DEBUG"),
                ("AWS_LAMBDA_LOG_GROUP_NAME", "/custom/esb"),
                ("ESB_SYSTEM_LOG_LEVEL", "WARN"),
            ])
        );
        let env = load("", "      LoggingConfig: {LogFormat: Text}\n").expect("valid");
        assert_eq!(env, vars(&[("AWS_LAMBDA_LOG_FORMAT", "Text")]));
        assert_eq!(
            load("", "      LoggingConfig: {}\n").expect("valid"),
            vars(&[])
        );
    }

    #[test]
    fn logging_config_wins_over_written_variables() {
        let env = load(
            "",
            "      Environment: {Variables: {AWS_LAMBDA_LOG_FORMAT: Text, AWS_LAMBDA_LOG_LEVEL: INFO, KEEP: x}}\n      LoggingConfig: {LogFormat: JSON, ApplicationLogLevel: ERROR}\n",
        )
        .expect("valid");
        assert_eq!(
            env,
            vars(&[
                ("AWS_LAMBDA_LOG_FORMAT", "JSON"),
                ("AWS_LAMBDA_LOG_LEVEL", "ERROR"),
                ("KEEP", "x"),
            ])
        );
        // Written by the user it is still reserved.
        assert!(
            error(
                "",
                "      Environment: {Variables: {AWS_LAMBDA_LOG_GROUP_NAME: g}}\n"
            )
            .contains("AWS_LAMBDA_LOG_GROUP_NAME is reserved by Lambda")
        );
    }

    #[test]
    fn globals_merge_key_by_key() {
        let globals = "    LoggingConfig:\n      LogFormat: JSON\n      ApplicationLogLevel: INFO\n      LogGroup: /shared\n";
        let env = load(
            globals,
            "      LoggingConfig:\n        ApplicationLogLevel: ERROR\n        SystemLogLevel: DEBUG\n",
        )
        .expect("valid");
        assert_eq!(
            env,
            vars(&[
                ("AWS_LAMBDA_LOG_FORMAT", "JSON"),
                ("AWS_LAMBDA_LOG_LEVEL", "ERROR"),
                ("AWS_LAMBDA_LOG_GROUP_NAME", "/shared"),
                ("ESB_SYSTEM_LOG_LEVEL", "DEBUG"),
            ])
        );
        // Globals alone apply; the function's AWS::NoValue removes a key or the whole.
        assert_eq!(load(globals, "").expect("valid").len(), 3);
        let env = load(
            globals,
            "      LoggingConfig: {LogGroup: !Ref AWS::NoValue}\n",
        )
        .expect("valid");
        assert!(!env.contains_key("AWS_LAMBDA_LOG_GROUP_NAME"), "{env:?}");
        assert_eq!(
            load(globals, "      LoggingConfig: !Ref AWS::NoValue\n").expect("valid"),
            vars(&[])
        );
        // A function's Text makes the global level an error, pointing at the level.
        let e = error(globals, "      LoggingConfig: {LogFormat: Text}\n");
        assert!(
            e.contains(":9:7: Globals.Function.LoggingConfig.ApplicationLogLevel: ApplicationLogLevel needs LogFormat: JSON (LogFormat is Text)"),
            "{e}"
        );
    }

    #[test]
    fn levels_need_json() {
        let e = error(
            "",
            "      LoggingConfig:\n        LogFormat: Text\n        ApplicationLogLevel: INFO\n",
        );
        assert!(
            e.contains("unit.yaml:16:9: Resources.Fn.Properties.LoggingConfig.ApplicationLogLevel: ApplicationLogLevel needs LogFormat: JSON (LogFormat is Text) (hint: set LogFormat: JSON"),
            "{e}"
        );
        let e = error("", "      LoggingConfig:\n        SystemLogLevel: WARN\n");
        assert!(
            e.contains(":15:9: Resources.Fn.Properties.LoggingConfig.SystemLogLevel: SystemLogLevel needs LogFormat: JSON (LogFormat defaults to Text)"),
            "{e}"
        );
    }

    #[test]
    fn values_are_exact() {
        for (config, want) in [
            (
                "{LogFormat: json}",
                "LogFormat: \"json\" is not one of Text, JSON (hint: values are case-sensitive: write JSON)",
            ),
            (
                "{LogFormat: XML}",
                "\"XML\" is not one of Text, JSON (hint: LogFormat is one of Text, JSON)",
            ),
            (
                "{LogFormat: JSON, ApplicationLogLevel: VERBOSE}",
                "ApplicationLogLevel: \"VERBOSE\" is not one of TRACE, DEBUG, INFO, WARN, ERROR, FATAL",
            ),
            (
                "{LogFormat: JSON, ApplicationLogLevel: info}",
                "(hint: values are case-sensitive: write INFO)",
            ),
            (
                "{LogFormat: JSON, SystemLogLevel: ERROR}",
                "SystemLogLevel: \"ERROR\" is not one of DEBUG, INFO, WARN",
            ),
            (
                "{LogFormat: [JSON]}",
                "LogFormat: must be a string, not a list",
            ),
            (
                "{LogGroup: 'has space'}",
                "\"has space\" is not a valid log group name",
            ),
            ("[JSON]", "LoggingConfig: must be a mapping, not a list"),
        ] {
            let e = error("", &format!("      LoggingConfig: {config}\n"));
            assert!(e.contains(want), "{config}: {e}");
            assert!(e.contains("unit.yaml:14:"), "{config}: {e}");
        }
        let e = error(
            "",
            "      LoggingConfig:\n        LogFormat: JSON\n        ApplicationLogLevel: !If [Nope, INFO, WARN]\n",
        );
        assert!(e.contains("unknown condition"), "{e}");
    }

    #[test]
    fn unknown_keys() {
        let e = error(
            "",
            "      LoggingConfig:\n        LogFormat: JSON\n        Level: INFO\n",
        );
        assert!(
            e.contains("unit.yaml:16:9: Resources.Fn.Properties.LoggingConfig.Level: Level is not a LoggingConfig key (hint: LoggingConfig has LogFormat, ApplicationLogLevel, SystemLogLevel, LogGroup)"),
            "{e}"
        );
        let e = error("    LoggingConfig: {Format: JSON}\n", "");
        assert!(
            e.contains(
                ":7:21: Globals.Function.LoggingConfig.Format: Format is not a LoggingConfig key"
            ),
            "{e}"
        );
    }
}
