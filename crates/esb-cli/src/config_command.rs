//! `esb config`: the settings `esb up` would run with here and now, and where each
//! came from (flag, `ESB_*` variable, a line of esb.toml, built-in default), so "why
//! is the box on port 9443?" has an answer without reading code or environment dumps.

use anyhow::{Context, Result};
use clap::parser::ValueSource;
use clap::{Arg, ArgMatches, Args, Command};
use serde_json::{Value, json};

use crate::config_file::{FileSource, Origins, TemplateSource};

#[derive(Args)]
#[command(
    after_help = "Examples:\n  esb config                 # each setting, its value and where it came from\n  ESB_PORT=9443 esb config   # see a variable win over esb.toml\n  esb config --json\n\nExit status: 0; 1 a setting is invalid (named, with the fix)."
)]
pub struct ConfigArgs {
    /// Print one JSON object instead of a table.
    #[arg(long)]
    pub json: bool,
    /// Every flag of `esb up`, so `esb config --port 9000` shows what that would run.
    #[command(flatten)]
    pub up: crate::up_command::UpArgs,
}

/// One setting as shown.
struct Row {
    key: String,
    variable: String,
    value: Value,
    source: String,
}

pub fn run(args: &ConfigArgs, matches: &ArgMatches, origins: &Origins) -> Result<()> {
    let sub = matches
        .subcommand_matches("config")
        .context("esb config: the command line was not parsed as `esb config`")?;
    // The same arguments clap parsed, without the defaults esb.toml put in: only their
    // names, variables and shapes are read here; values come from the matches.
    let cmd = <ConfigArgs as Args>::augment_args(Command::new("config"));
    let rows: Vec<Row> = cmd
        .get_arguments()
        .filter(|a| {
            a.get_long().is_some_and(|l| {
                !["json", "help"].contains(&l) && !crate::config_file::RUN_FLAGS.contains(&l)
            })
        })
        .map(|arg| row(arg, sub, origins, args))
        .collect::<Result<_>>()?;
    // Keys the file sets for `esb agent` or `esb gateway` alone, shown so none looks lost.
    let others: Vec<(String, String)> = origins
        .file
        .iter()
        .flat_map(|f| {
            f.entries
                .iter()
                .filter(|e| !rows.iter().any(|r| r.key == e.key))
                .map(|e| (e.key.clone(), f.location(e)))
        })
        .collect();
    let out = if args.json {
        render_json(origins, &rows, &others)?
    } else {
        render_table(origins, &rows, &others)
    };
    // `esb config | head` closing the pipe early is not an error worth a panic.
    match std::io::Write::write_all(&mut std::io::stdout().lock(), out.as_bytes()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
            Err(e).context("cannot write the configuration")
        }
        _ => Ok(()),
    }
}

fn row(arg: &Arg, sub: &ArgMatches, origins: &Origins, args: &ConfigArgs) -> Result<Row> {
    let id = arg.get_id().as_str();
    let key = arg.get_long().unwrap_or(id).to_string();
    let variable = arg
        .get_env()
        .map(|e| e.to_string_lossy().into_owned())
        .unwrap_or_default();
    let raw: Vec<String> = sub
        .try_get_raw(id)
        .with_context(|| format!("esb config: no value slot for --{key}"))?
        .map(|values| values.map(|v| v.to_string_lossy().into_owned()).collect())
        .unwrap_or_default();
    let secret = arg.is_hide_env_values_set();
    let shown = |v: &String| {
        if secret {
            "****".to_string()
        } else {
            v.clone()
        }
    };
    let multiple = matches!(arg.get_action(), clap::ArgAction::Append)
        || arg.get_num_args().is_some_and(|n| n.max_values() > 1);
    let mut value = match (multiple, raw.first()) {
        (true, _) => Value::from(raw.iter().map(shown).collect::<Vec<_>>()),
        (false, Some(v)) => Value::from(shown(v)),
        (false, None) => Value::Null,
    };
    let mut source = match (sub.value_source(id), origins.alias_of(&key)) {
        (Some(ValueSource::CommandLine), _) => "flag".to_string(),
        (Some(ValueSource::EnvVariable), _) => format!("env {variable}"),
        // The original ESB's variable gave the default clap used.
        (_, Some(alias)) => format!("env {}", alias.variable),
        _ => match origins
            .file
            .as_ref()
            .and_then(|f| Some((f, f.entry(&key)?)))
        {
            Some((file, entry)) => file.location(entry),
            None => "default".to_string(),
        },
    };
    if key == "template" && source == "default" {
        source = match origins.template.as_ref().map(|t| &t.source) {
            Some(TemplateSource::CurrentDir) => "found in the current directory",
            Some(TemplateSource::Above) => "found above the current directory",
            Some(TemplateSource::NotFound) => "default (no template found here or above)",
            _ => "default",
        }
        .to_string();
    }
    if key == "state-dir" && value.is_null() {
        let dir = args.up.project.state_dir();
        let dir = std::path::absolute(&dir).unwrap_or(dir);
        value = Value::from(dir.display().to_string());
        source = "default (.esb beside the template)".to_string();
    }
    Ok(Row {
        key,
        variable,
        value,
        source,
    })
}

fn file_source(source: FileSource) -> &'static str {
    match source {
        FileSource::Flag => "flag --config",
        FileSource::Env => "env ESB_CONFIG",
        FileSource::BesideTemplate => "beside the template",
    }
}

fn render_json(origins: &Origins, rows: &[Row], others: &[(String, String)]) -> Result<String> {
    let out = json!({
        "template": origins.template.as_ref().map(|t| json!({
            "path": t.path.display().to_string(),
            "source": match t.source {
                TemplateSource::Flag => "flag",
                TemplateSource::Env => "env",
                TemplateSource::CurrentDir => "current-dir",
                TemplateSource::Above => "above",
                TemplateSource::NotFound => "not-found",
            },
        })),
        "settings_file": origins.file.as_ref().map(|f| json!({
            "path": f.path.display().to_string(),
            "source": file_source(f.source),
        })),
        "settings": rows.iter().map(|r| json!({
            "setting": r.key,
            "flag": format!("--{}", r.key),
            "variable": r.variable,
            "value": r.value,
            "source": r.source,
        })).collect::<Vec<_>>(),
        "other_commands": others.iter().map(|(key, at)| json!({
            "setting": key,
            "source": at,
        })).collect::<Vec<_>>(),
    });
    Ok(serde_json::to_string_pretty(&out).context("cannot render the configuration")? + "\n")
}

fn render_table(origins: &Origins, rows: &[Row], others: &[(String, String)]) -> String {
    use std::fmt::Write as _;
    let mut out = String::new();
    if let Some(file) = &origins.file {
        let _ = writeln!(
            out,
            "settings file: {} ({})",
            file.path.display(),
            file_source(file.source)
        );
    } else {
        let _ = writeln!(
            out,
            "settings file: none ({} beside the template, --config or ESB_CONFIG)",
            crate::config_file::FILE_NAME
        );
    }
    let text = |v: &Value| match v {
        Value::Null => "-".to_string(),
        Value::String(s) => s.clone(),
        Value::Array(items) if items.is_empty() => "-".to_string(),
        Value::Array(items) => items
            .iter()
            .map(|i| i.as_str().unwrap_or_default().to_string())
            .collect::<Vec<_>>()
            .join(","),
        other => other.to_string(),
    };
    let width = |f: &dyn Fn(&Row) -> usize, title: &str| {
        rows.iter().map(f).max().unwrap_or(0).max(title.len())
    };
    let (k, v, s) = (
        width(&|r| r.key.len(), "SETTING"),
        width(&|r| text(&r.value).len(), "VALUE"),
        width(&|r| r.source.len(), "SOURCE"),
    );
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "{:k$}  {:v$}  {:s$}  VARIABLE",
        "SETTING", "VALUE", "SOURCE"
    );
    for r in rows {
        let _ = writeln!(
            out,
            "{:k$}  {:v$}  {:s$}  {}",
            r.key,
            text(&r.value),
            r.source,
            r.variable
        );
    }
    if !others.is_empty() {
        let _ = writeln!(out);
    }
    for (key, at) in others {
        let _ = writeln!(
            out,
            "{at}: `{key}` is not a setting of `esb up` (esb gateway or esb agent use it)"
        );
    }
    out
}
