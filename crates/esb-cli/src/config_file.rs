//! Where the box's settings come from besides flags: `ESB_*` variables (clap's `env`),
//! an optional `esb.toml` beside the template, and the template itself, found the way
//! the original ESB found it. Precedence: flag > variable > esb.toml > built-in default.
//!
//! The file's values become clap *defaults* of the command being run, rather than
//! `ESB_*` variables exported before parsing: clap already ranks flag > env > default,
//! so the file lands exactly where it belongs without `unsafe` `set_var`, and nothing
//! read from the file leaks into the environment of the workers and functions the box
//! spawns. `esb config` tells a file value from a built-in default by the record kept
//! here ([`Origins`]).

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, anyhow, bail};
use clap::{Arg, ArgAction, ArgMatches, Command, Parser};
use toml::de::{DeTable, DeValue};

/// The settings file's name, looked for beside the template.
pub const FILE_NAME: &str = "esb.toml";
/// Where every setting is documented; error messages point there.
pub const DOCS: &str = "docs/configuration.md";
/// Names a SAM template has when none is given (SAM CLI accepts both).
const TEMPLATE_NAMES: [&str; 2] = ["template.yaml", "template.yml"];
/// The commands whose flags are the box's settings, hence the valid esb.toml keys.
pub const SETTING_COMMANDS: [&str; 3] = ["up", "gateway", "agent"];
/// Commands esb.toml never applies to: `esb rie` runs inside workers, far from the
/// project, and `esb image --runtime` names a Python version, not a worker kind.
const UNCONFIGURED_COMMANDS: [&str; 3] = ["rie", "image", "help"];
/// Flags that are not settings: they choose where settings come from, or what a
/// command prints.
const NOT_SETTINGS: [&str; 7] = [
    "help", "version", "template", "config", "json", "quiet", "verbose",
];
/// Flags of `esb up` that say how to run this once (in the background, watching
/// files), not how the box is set up: flags only, neither in esb.toml nor `esb config`.
pub const RUN_FLAGS: [&str; 3] = ["detach", "wait", "watch"];

/// The original ESB's variables for settings ESB names `ESB_*`, read when the `ESB_*`
/// variable is not set, so the original's `.env` files keep working: flag > `ESB_*` >
/// the original's name > esb.toml > default.
pub const ENV_ALIASES: [(&str, &str); 6] = [
    ("breaker-threshold", "CIRCUIT_BREAKER_THRESHOLD"),
    ("breaker-cooldown", "CIRCUIT_BREAKER_RECOVERY_TIMEOUT"),
    ("acquire-timeout", "POOL_ACQUIRE_TIMEOUT"),
    ("idle-timeout", "GATEWAY_IDLE_TIMEOUT_SECONDS"),
    ("orphan-grace", "ORPHAN_GRACE_PERIOD_SECONDS"),
    ("cni-bin-dir", "CNI_BIN_DIR"),
];

/// How the template of this run was found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TemplateSource {
    Flag,
    Env,
    /// `./template.yaml` (or `.yml`).
    CurrentDir,
    /// The nearest `template.yaml` above the current directory.
    Above,
    /// None anywhere: commands fall back to `./template.yaml` and say it is missing.
    NotFound,
}

#[derive(Debug, Clone)]
pub struct TemplateOrigin {
    pub path: PathBuf,
    pub source: TemplateSource,
}

/// How the settings file of this run was chosen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileSource {
    Flag,
    Env,
    BesideTemplate,
}

/// One `key = value` of the settings file, checked and ready for clap.
#[derive(Debug, Clone)]
pub struct Entry {
    /// The flag's long name (`pause-idle-after`), whatever spelling the file used.
    pub key: String,
    pub line: usize,
    pub values: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct SettingsFile {
    pub path: PathBuf,
    pub source: FileSource,
    pub entries: Vec<Entry>,
}

impl SettingsFile {
    pub fn entry(&self, key: &str) -> Option<&Entry> {
        self.entries.iter().find(|e| e.key == key)
    }

    /// `esb.toml:12`: where a value came from, as `esb config` shows it.
    pub fn location(&self, entry: &Entry) -> String {
        let name = self.path.file_name().map_or_else(
            || self.path.display().to_string(),
            |n| n.to_string_lossy().into_owned(),
        );
        format!("{name}:{}", entry.line)
    }
}

/// What `esb config` needs to say where each value came from. Empty for commands the
/// settings do not apply to (`esb rie`, `esb image`).
#[derive(Debug, Default)]
pub struct Origins {
    pub template: Option<TemplateOrigin>,
    pub file: Option<SettingsFile>,
    /// Settings taken from one of [`ENV_ALIASES`].
    pub aliases: Vec<AliasedValue>,
}

/// A setting's value read from the original ESB's variable for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AliasedValue {
    /// The flag's long name (`breaker-threshold`).
    pub key: String,
    /// The variable it came from (`CIRCUIT_BREAKER_THRESHOLD`).
    pub variable: String,
    pub value: String,
}

impl Origins {
    /// The original ESB's variable that gave `key` its value, if one did.
    pub fn alias_of(&self, key: &str) -> Option<&AliasedValue> {
        self.aliases.iter().find(|a| a.key == key)
    }
}

/// What a valid key needs to be checked: its shape and its flag's value parser.
#[derive(Clone)]
struct KeyInfo {
    arg: Arg,
    /// A `--flag` without value (true when present).
    switch: bool,
    multiple: bool,
    path: bool,
}

/// Parses the command line with esb.toml and template discovery applied; the matches
/// are returned too, because `esb config` reports each value's source from them.
pub fn parse<C: Parser>() -> Result<(C, ArgMatches, Origins)> {
    let args: Vec<OsString> = std::env::args_os().collect();
    let mut cmd = C::command().mut_subcommands(with_config_flag);
    let mut origins = Origins::default();
    if let Some(name) = configured_subcommand(&cmd, &args) {
        let scan = prescan(args.get(2..).unwrap_or_default());
        let cwd = std::env::current_dir().context("cannot read the current directory")?;
        let template = locate_template(scan.template, &cwd);
        let file = match locate_file(scan.config, &template)? {
            Some((path, source)) => Some(read_file(&path, source, &valid_keys(&cmd))?),
            None => None,
        };
        let aliases = env_aliases(&cmd, &name, |var| std::env::var(var).ok())?;
        cmd = apply(cmd, &name, &template, file.as_ref(), &aliases);
        origins = Origins {
            template: Some(template),
            file,
            aliases,
        };
    }
    let matches = cmd.clone().get_matches_from(args);
    let cli = C::from_arg_matches(&matches).unwrap_or_else(|e| e.format(&mut cmd).exit());
    Ok((cli, matches, origins))
}

/// Adds `--config FILE` (`ESB_CONFIG`) to every command the settings apply to.
fn with_config_flag(sub: Command) -> Command {
    let name = sub.get_name().to_string();
    let taken = sub
        .get_arguments()
        .any(|a| a.get_id() == "config" || a.get_long() == Some("config"));
    if UNCONFIGURED_COMMANDS.contains(&name.as_str()) || taken {
        return sub;
    }
    sub.arg(
        Arg::new("config")
            .long("config")
            .env("ESB_CONFIG")
            .value_name("FILE")
            .value_parser(clap::value_parser!(PathBuf))
            .help(format!(
                "Settings file (default: {FILE_NAME} beside the template, if there is one)"
            )),
    )
}

/// The subcommand of `esb <subcommand> ...` when settings apply to it.
fn configured_subcommand(cmd: &Command, args: &[OsString]) -> Option<String> {
    let name = args.get(1)?.to_str()?;
    if name.starts_with('-') || UNCONFIGURED_COMMANDS.contains(&name) {
        return None;
    }
    cmd.find_subcommand(name).map(|_| name.to_string())
}

/// `--template` and `--config` as given on the command line, read before clap runs
/// because they decide which defaults clap is given.
#[derive(Default)]
struct Prescan {
    template: Option<OsString>,
    config: Option<OsString>,
}

fn prescan(args: &[OsString]) -> Prescan {
    let mut scan = Prescan::default();
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        let Some(text) = arg.to_str() else { continue };
        if text == "--" {
            break;
        }
        for (flag, slot) in [
            ("--template", &mut scan.template),
            ("--config", &mut scan.config),
        ] {
            if text == flag {
                *slot = it.next().cloned();
            } else if let Some(value) = text.strip_prefix(flag).and_then(|r| r.strip_prefix('=')) {
                *slot = Some(value.into());
            }
        }
    }
    scan
}

/// The original ESB's order: `--template` > `ESB_TEMPLATE` > `./template.yaml` > the
/// project's template. Its project root was the nearest directory above with a
/// `pyproject.toml` (its own Python tree); an ESB project's marker is the template
/// itself, so the nearest `template.yaml` above the current directory is taken, as git
/// and cargo find their roots.
fn locate_template(flag: Option<OsString>, cwd: &Path) -> TemplateOrigin {
    if let Some(path) = flag {
        return TemplateOrigin {
            path: path.into(),
            source: TemplateSource::Flag,
        };
    }
    if let Some(path) = std::env::var_os("ESB_TEMPLATE").filter(|v| !v.is_empty()) {
        return TemplateOrigin {
            path: path.into(),
            source: TemplateSource::Env,
        };
    }
    for (depth, dir) in cwd.ancestors().enumerate() {
        for name in TEMPLATE_NAMES {
            if dir.join(name).is_file() {
                return if depth == 0 {
                    TemplateOrigin {
                        path: PathBuf::from(name),
                        source: TemplateSource::CurrentDir,
                    }
                } else {
                    TemplateOrigin {
                        path: dir.join(name),
                        source: TemplateSource::Above,
                    }
                };
            }
        }
    }
    TemplateOrigin {
        path: PathBuf::from(TEMPLATE_NAMES[0]),
        source: TemplateSource::NotFound,
    }
}

/// `--config` > `ESB_CONFIG` > `esb.toml` beside the template. A file named
/// explicitly must exist; the one beside the template is optional.
fn locate_file(
    flag: Option<OsString>,
    template: &TemplateOrigin,
) -> Result<Option<(PathBuf, FileSource)>> {
    let (path, source) = if let Some(path) = flag {
        (PathBuf::from(path), FileSource::Flag)
    } else if let Some(path) = std::env::var_os("ESB_CONFIG").filter(|v| !v.is_empty()) {
        (PathBuf::from(path), FileSource::Env)
    } else {
        let dir = match template.path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d,
            _ => Path::new("."),
        };
        let path = dir.join(FILE_NAME);
        if !path.is_file() {
            return Ok(None);
        }
        (path, FileSource::BesideTemplate)
    };
    let path = std::path::absolute(&path)
        .with_context(|| format!("cannot resolve the settings file {}", path.display()))?;
    Ok(Some((path, source)))
}

/// Every esb.toml key: the long flags of the box's commands.
fn valid_keys(cmd: &Command) -> BTreeMap<String, KeyInfo> {
    let mut keys = BTreeMap::new();
    for sub in cmd
        .get_subcommands()
        .filter(|s| SETTING_COMMANDS.contains(&s.get_name()))
    {
        for arg in sub.get_arguments() {
            let Some(long) = arg.get_long() else { continue };
            if NOT_SETTINGS.contains(&long) || RUN_FLAGS.contains(&long) || keys.contains_key(long)
            {
                continue;
            }
            keys.insert(long.to_string(), key_info(arg));
        }
    }
    keys
}

fn key_info(arg: &Arg) -> KeyInfo {
    let switch = matches!(arg.get_action(), ArgAction::SetTrue | ArgAction::SetFalse);
    let multiple = matches!(arg.get_action(), ArgAction::Append)
        || arg.get_num_args().is_some_and(|n| n.max_values() > 1);
    let path = arg.get_value_parser().type_id() == std::any::TypeId::of::<PathBuf>();
    KeyInfo {
        arg: arg.clone(),
        switch,
        multiple,
        path,
    }
}

/// Reads and checks the whole file, so a typo fails every command the same way
/// instead of surfacing only in the command that happens to use that key.
fn read_file(
    path: &Path,
    source: FileSource,
    keys: &BTreeMap<String, KeyInfo>,
) -> Result<SettingsFile> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read the settings file {}", path.display()))?;
    let table =
        DeTable::parse(&text).map_err(|e| anyhow!("{}: not valid TOML: {e}", path.display()))?;
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut entries: Vec<Entry> = Vec::new();
    // In file order, so errors and duplicates name the lines as the user reads them.
    let mut items: Vec<_> = table.get_ref().iter().collect();
    items.sort_by_key(|(key, _)| key.span().start);
    for (key, value) in items {
        let line = line_of(&text, key.span().start);
        let written = key.get_ref().as_ref();
        let at = format!("{}:{line}", path.display());
        let name = written.replace('_', "-");
        if name == "template" {
            bail!(
                "{at}: `template` cannot be set in {FILE_NAME}, which is found beside the \
                 template; use --template or ESB_TEMPLATE"
            );
        }
        let Some(info) = keys.get(&name) else {
            bail!(
                "{at}: unknown setting `{written}`; did you mean `{}`? (every setting: {DOCS})",
                closest(&name, keys.keys()).unwrap_or("port"),
            );
        };
        if let Some(first) = entries.iter().find(|e| e.key == name) {
            bail!("{at}: `{written}` is already set on line {}", first.line);
        }
        let mut values = values_of(&name, value.get_ref(), info)
            .with_context(|| format!("{at}: `{written}`"))?;
        if info.path {
            values = values.iter().map(|v| relative_to(dir, v)).collect();
        } else if name == "jwks" {
            values = values.iter().map(|v| jwks_relative_to(dir, v)).collect();
        }
        check_values(&name, info, &values).with_context(|| format!("{at}: `{written}`"))?;
        entries.push(Entry {
            key: name,
            line,
            values,
        });
    }
    entries.sort_by_key(|e| e.line);
    Ok(SettingsFile {
        path: path.to_path_buf(),
        source,
        entries,
    })
}

fn line_of(text: &str, offset: usize) -> usize {
    text.get(..offset).unwrap_or(text).matches('\n').count() + 1
}

/// The valid key nearest to a misspelt one.
fn closest<'a>(name: &str, keys: impl Iterator<Item = &'a String>) -> Option<&'a str> {
    keys.min_by_key(|k| strsim::levenshtein(name, k))
        .map(String::as_str)
}

/// A TOML value as the strings clap would have got from the command line.
fn values_of(name: &str, value: &DeValue<'_>, info: &KeyInfo) -> Result<Vec<String>> {
    if info.switch {
        return match value {
            DeValue::Boolean(b) => Ok(vec![b.to_string()]),
            other => bail!("expects true or false, not a {}", other.type_str()),
        };
    }
    match value {
        DeValue::Array(items) if info.multiple => {
            items.iter().map(|i| scalar(i.get_ref())).collect()
        }
        DeValue::Array(_) => bail!("takes one value, not a list"),
        // Template parameters read naturally as a table: `[parameter-overrides]`.
        DeValue::Table(table) if name == "parameter-overrides" => table
            .iter()
            .map(|(k, v)| Ok(format!("{}={}", k.get_ref(), scalar(v.get_ref())?)))
            .collect(),
        DeValue::Table(_) => bail!(
            "is a section; settings are plain keys at the top of the file (e.g. `port = 8443`)"
        ),
        other => Ok(vec![scalar(other)?]),
    }
}

fn scalar(value: &DeValue<'_>) -> Result<String> {
    Ok(match value {
        DeValue::String(s) => s.to_string(),
        DeValue::Integer(i) => i128::from_str_radix(i.as_str(), i.radix())
            .map_err(|e| anyhow!("integer {i}: {e}"))?
            .to_string(),
        DeValue::Float(f) => f
            .as_str()
            .parse::<f64>()
            .map_err(|e| anyhow!("number {f}: {e}"))?
            .to_string(),
        DeValue::Boolean(b) => b.to_string(),
        other => bail!("a {} is not a setting value", other.type_str()),
    })
}

/// Runs each value through the flag's own parser now, so a bad value is reported
/// with the file and line rather than as a flag the user never typed.
fn check_values(name: &str, info: &KeyInfo, values: &[String]) -> Result<()> {
    if info.switch {
        return Ok(());
    }
    let probe = Command::new(FILE_NAME)
        .no_binary_name(true)
        .disable_help_flag(true)
        .arg(
            Arg::new(name.to_string())
                .long(name.to_string())
                .value_name(name.to_uppercase().replace('-', "_"))
                .value_parser(info.arg.get_value_parser().clone())
                .action(ArgAction::Append),
        );
    let args = values.iter().map(|v| format!("--{name}={v}"));
    match probe.try_get_matches_from(args) {
        Ok(_) => Ok(()),
        Err(e) => {
            let text = e.render().to_string();
            let message: Vec<&str> = text
                .lines()
                .map(str::trim)
                .filter(|l| !l.is_empty() && !l.starts_with("For more information"))
                .collect();
            let message = message.join("; ");
            bail!("{}", message.strip_prefix("error: ").unwrap_or(&message))
        }
    }
}

/// A relative path in the file means relative to the file, wherever esb runs from.
fn relative_to(dir: &Path, value: &str) -> String {
    let path = Path::new(value);
    if path.is_absolute() {
        value.to_string()
    } else {
        dir.join(path).display().to_string()
    }
}

/// `ISSUER=FILE` with a relative FILE is relative to the file; URLs stay as they are.
fn jwks_relative_to(dir: &Path, value: &str) -> String {
    match value.split_once('=') {
        Some((issuer, source)) if !source.contains("://") => {
            format!("{issuer}={}", relative_to(dir, source))
        }
        _ => value.to_string(),
    }
}

/// The settings of command `name` that take their value from one of [`ENV_ALIASES`]
/// (`lookup` reads a variable): those whose `ESB_*` variable is unset. A bad value is
/// reported with the variable's name, not as a flag the user never typed.
fn env_aliases(
    cmd: &Command,
    name: &str,
    lookup: impl Fn(&str) -> Option<String>,
) -> Result<Vec<AliasedValue>> {
    let Some(sub) = cmd.find_subcommand(name) else {
        return Ok(Vec::new());
    };
    let set = |var: &str| lookup(var).filter(|v| !v.is_empty());
    let mut found = Vec::new();
    for (key, variable) in ENV_ALIASES {
        let Some(arg) = sub.get_arguments().find(|a| a.get_long() == Some(key)) else {
            continue;
        };
        if arg
            .get_env()
            .and_then(|e| e.to_str())
            .is_some_and(|primary| set(primary).is_some())
        {
            continue;
        }
        let Some(value) = set(variable) else { continue };
        check_values(key, &key_info(arg), std::slice::from_ref(&value))
            .with_context(|| format!("{variable}={value} (the original ESB's --{key})"))?;
        found.push(AliasedValue {
            key: key.to_string(),
            variable: variable.to_string(),
            value,
        });
    }
    Ok(found)
}

/// The command `name` with the file's values, the original ESB's variables and the
/// discovered template as defaults (an aliased variable outranks the file).
fn apply(
    cmd: Command,
    name: &str,
    template: &TemplateOrigin,
    file: Option<&SettingsFile>,
    aliases: &[AliasedValue],
) -> Command {
    cmd.mut_subcommands(|sub| {
        if sub.get_name() != name {
            return sub;
        }
        sub.mut_args(|arg| {
            let Some(long) = arg.get_long().map(str::to_string) else {
                return arg;
            };
            if long == "template" {
                return match template.source {
                    TemplateSource::CurrentDir | TemplateSource::Above => {
                        arg.default_value(template.path.display().to_string())
                    }
                    // A command whose --template lacks `env` (clap reads the variable
                    // itself where it has one) still honours ESB_TEMPLATE.
                    TemplateSource::Env if arg.get_env().is_none() => {
                        arg.default_value(template.path.display().to_string())
                    }
                    _ => arg,
                };
            }
            if let Some(alias) = aliases.iter().find(|a| a.key == long) {
                return arg.default_value(alias.value.clone());
            }
            match file.and_then(|f| f.entry(&long)) {
                Some(entry) => arg.default_values(entry.values.clone()),
                None => arg,
            }
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cli() -> Command {
        <crate::Cli as clap::CommandFactory>::command()
    }

    fn load(text: &str) -> Result<SettingsFile> {
        let dir = tempfile_dir();
        let path = dir.join(FILE_NAME);
        std::fs::write(&path, text)?;
        let out = read_file(&path, FileSource::Flag, &valid_keys(&cli()));
        let _ = std::fs::remove_dir_all(&dir);
        out
    }

    fn tempfile_dir() -> PathBuf {
        let dir = std::env::temp_dir().join(format!(
            "esb-config-unit-{}-{}",
            std::process::id(),
            uuid::Uuid::new_v4()
        ));
        std::fs::create_dir_all(&dir).expect("temp dir");
        dir
    }

    #[test]
    fn kebab_and_snake_keys_lists_tables_and_switches() {
        let file = load(
            "port = 9443\npause_idle_after = 2.5\napi-key = [\"k1\", \"k2\"]\n\
             open-invoke-api = true\n[parameter-overrides]\nStage = \"prod\"\n",
        )
        .expect("valid file");
        let get = |k: &str| file.entry(k).map(|e| (e.line, e.values.clone()));
        assert_eq!(get("port"), Some((1, vec!["9443".into()])));
        assert_eq!(get("pause-idle-after"), Some((2, vec!["2.5".into()])));
        assert_eq!(get("api-key"), Some((3, vec!["k1".into(), "k2".into()])));
        assert_eq!(get("open-invoke-api"), Some((4, vec!["true".into()])));
        assert_eq!(
            get("parameter-overrides").map(|(_, v)| v),
            Some(vec!["Stage=prod".into()])
        );
    }

    #[test]
    fn bad_values_name_the_line_and_the_problem() {
        let e = format!("{:#}", load("\n\nport = \"eighty\"\n").unwrap_err());
        assert!(e.contains(":3: `port`") && e.contains("invalid"), "{e}");
        let e = format!("{:#}", load("runtime = \"dockr\"\n").unwrap_err());
        assert!(e.contains("possible values"), "{e}");
        let e = format!("{:#}", load("port = [1, 2]\n").unwrap_err());
        assert!(e.contains("one value"), "{e}");
        let e = format!("{:#}", load("open-invoke-api = 1\n").unwrap_err());
        assert!(e.contains("true or false"), "{e}");
        let e = format!(
            "{:#}",
            load("idle_timeout = 1\nidle-timeout = 2\n").unwrap_err()
        );
        assert!(e.contains("already set on line 1"), "{e}");
        let e = format!("{:#}", load("template = \"x.yaml\"\n").unwrap_err());
        assert!(e.contains("ESB_TEMPLATE"), "{e}");
    }

    #[test]
    fn unknown_keys_suggest_the_closest() {
        let e = format!("{:#}", load("idle-timout = 3\n").unwrap_err());
        assert!(
            e.contains("unknown setting `idle-timout`")
                && e.contains("did you mean `idle-timeout`"),
            "{e}"
        );
    }

    #[test]
    fn relative_paths_are_relative_to_the_file() {
        let file = load("state-dir = \"data\"\njwks = [\"https://i=keys.json\", \"https://j=https://k/jwks\"]\n")
            .expect("valid");
        let state = &file.entry("state-dir").expect("state-dir").values[0];
        assert!(
            Path::new(state).is_absolute() && state.ends_with("/data"),
            "{state}"
        );
        let jwks = &file.entry("jwks").expect("jwks").values;
        assert!(jwks[0].starts_with("https://i=/") && jwks[0].ends_with("/keys.json"));
        assert_eq!(jwks[1], "https://j=https://k/jwks");
    }

    #[test]
    fn prescan_reads_both_spellings_and_stops_at_double_dash() {
        let args: Vec<OsString> = [
            "--port",
            "1",
            "--template=a.yaml",
            "--config",
            "c.toml",
            "--",
            "--template",
            "z",
        ]
        .into_iter()
        .map(Into::into)
        .collect();
        let scan = prescan(&args);
        assert_eq!(scan.template, Some("a.yaml".into()));
        assert_eq!(scan.config, Some("c.toml".into()));
    }

    fn lookup(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let pairs: Vec<(String, String)> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |var| pairs.iter().find(|(k, _)| k == var).map(|(_, v)| v.clone())
    }

    #[test]
    fn the_original_esbs_breaker_variables_stand_in_for_esb_ones() {
        let cmd = cli();
        let original = [
            ("CIRCUIT_BREAKER_THRESHOLD", "3"),
            ("CIRCUIT_BREAKER_RECOVERY_TIMEOUT", "10.0"),
        ];
        for command in ["up", "gateway", "config"] {
            let got = env_aliases(&cmd, command, lookup(&original)).expect("valid values");
            assert_eq!(
                got,
                vec![
                    AliasedValue {
                        key: "breaker-threshold".into(),
                        variable: "CIRCUIT_BREAKER_THRESHOLD".into(),
                        value: "3".into(),
                    },
                    AliasedValue {
                        key: "breaker-cooldown".into(),
                        variable: "CIRCUIT_BREAKER_RECOVERY_TIMEOUT".into(),
                        value: "10.0".into(),
                    },
                ],
                "esb {command}"
            );
        }
        // ESB's own variable wins; an empty one counts as unset.
        let got = env_aliases(
            &cmd,
            "up",
            lookup(&[
                ("ESB_BREAKER_THRESHOLD", "7"),
                ("ESB_BREAKER_COOLDOWN", ""),
                ("CIRCUIT_BREAKER_THRESHOLD", "3"),
                ("CIRCUIT_BREAKER_RECOVERY_TIMEOUT", "2.5"),
            ]),
        )
        .expect("valid values");
        assert_eq!(got.len(), 1, "{got:?}");
        assert_eq!(
            (got[0].key.as_str(), got[0].value.as_str()),
            ("breaker-cooldown", "2.5")
        );
        // `esb agent` has no breaker.
        assert!(
            env_aliases(&cmd, "agent", lookup(&original))
                .expect("nothing to read")
                .is_empty()
        );
        let err = env_aliases(&cmd, "up", lookup(&[("CIRCUIT_BREAKER_THRESHOLD", "many")]))
            .expect_err("not a number");
        assert!(
            format!("{err:#}").contains("CIRCUIT_BREAKER_THRESHOLD=many"),
            "{err:#}"
        );
    }

    /// "Document every setting": the page names each key and its variable.
    #[test]
    fn docs_cover_every_setting() {
        let docs = std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../..")
                .join(DOCS),
        )
        .expect("docs/configuration.md");
        let cmd = cli();
        for sub in cmd
            .get_subcommands()
            .filter(|s| SETTING_COMMANDS.contains(&s.get_name()))
        {
            for arg in sub.get_arguments() {
                let Some(long) = arg.get_long() else { continue };
                if ["help", "version"].contains(&long) || RUN_FLAGS.contains(&long) {
                    continue;
                }
                assert!(
                    docs.contains(&format!("`--{long}")),
                    "{DOCS} lacks --{long}"
                );
                if let Some(env) = arg.get_env() {
                    let env = env.to_string_lossy();
                    assert!(docs.contains(&format!("`{env}`")), "{DOCS} lacks {env}");
                } else {
                    panic!(
                        "--{long} of esb {} has no environment variable",
                        sub.get_name()
                    );
                }
            }
        }
        for (key, variable) in ENV_ALIASES {
            assert!(
                docs.contains(&format!("`{variable}`")),
                "{DOCS} lacks {variable} (--{key})"
            );
        }
    }
}
