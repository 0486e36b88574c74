//! `esb init`: writes a small project that `esb up` serves at once — a SAM template
//! with a REST and an HTTP API route, a function calling another through the AWS SDK,
//! a README with the calls to make — so a new user starts from something that works.
//! The sample files are embedded (`init_templates/`), one file per sample file.

use std::io::{BufRead, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{Context, Result, bail};
use clap::Args;
use esb_template::Runtime;

#[derive(Args)]
#[command(after_help = "Examples:\n  \
    esb init hello\n  \
    esb init --runtime python3.11 api\n  \
    esb init --runtime provided.al2023 --name greeter rust-app\n  \
    esb init . --force\n\n\
    Without DIR or --runtime on a terminal, esb init asks for them.")]
pub struct InitArgs {
    /// Folder of the new project, created if missing [default: .]
    pub dir: Option<PathBuf>,
    /// Runtime of the sample: python3.8 to python3.14, or provided.al2023 (a Rust
    /// crate with the lambda_runtime crate) [default: python3.12]
    #[arg(long)]
    pub runtime: Option<String>,
    /// Project name, in the template, the README and the Rust crate [default: the
    /// folder's name]
    #[arg(long)]
    pub name: Option<String>,
    /// Overwrite sample files that already exist.
    #[arg(long)]
    pub force: bool,
}

const DEFAULT_RUNTIME: &str = "python3.12";
/// The Rust crate's folder, and where its `bootstrap` goes (the template's CodeUri).
const CRATE_DIR: &str = "hello";
const BOOTSTRAP_DIR: &str = "hello/dist";

/// One sample file: its path in the project and its text.
struct SampleFile {
    path: &'static str,
    text: String,
}

pub fn run(args: InitArgs) -> Result<()> {
    let interactive = std::io::stdin().is_terminal();
    let dir = match args.dir {
        Some(d) => d,
        None if interactive => PathBuf::from(ask("Project folder", ".")?),
        None => PathBuf::from("."),
    };
    let runtime_id = match args.runtime {
        Some(r) => r,
        None if interactive => ask(
            "Runtime (python3.14 ... python3.8, provided.al2023 for Rust)",
            DEFAULT_RUNTIME,
        )?,
        None => DEFAULT_RUNTIME.to_string(),
    };
    let runtime = Runtime::parse(&runtime_id).with_context(|| {
        format!(
            "--runtime {runtime_id:?} is not a runtime ESB runs; use one of {}",
            Runtime::supported()
        )
    })?;
    let name = match args.name {
        Some(n) => checked_name(&n)?,
        None => name_of(&dir),
    };
    let files = sample_files(&runtime, &name);

    let existing: Vec<&str> = files
        .iter()
        .map(|f| f.path)
        .filter(|p| dir.join(p).symlink_metadata().is_ok())
        .collect();
    if !existing.is_empty() && !args.force {
        bail!(
            "{} already exist{} in {}; esb init does not overwrite files (pass --force to replace {})",
            existing.join(", "),
            if existing.len() == 1 { "s" } else { "" },
            dir.display(),
            if existing.len() == 1 { "it" } else { "them" },
        );
    }
    for f in &files {
        let path = dir.join(f.path);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("cannot create {}", parent.display()))?;
        }
        std::fs::write(&path, &f.text)
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    println!(
        "esb: created the {name} project ({}) in {}:",
        runtime.id(),
        dir.display()
    );
    for f in &files {
        println!("  {}", f.path);
    }
    if matches!(runtime, Runtime::Provided { .. }) {
        build_rust(&dir)?;
    }
    println!("next:");
    if dir != Path::new(".") {
        println!("  cd {}", dir.display());
    }
    println!("  esb up");
    println!("  curl --cacert .esb/certs/ca.pem 'https://127.0.0.1:8443/hello?name=edge'");
    println!("README.md has the rest: the Invoke API (esb invoke, signed curl) and esb down.");
    Ok(())
}

/// Asks on the terminal; an empty answer (or end of input) takes the default.
fn ask(question: &str, default: &str) -> Result<String> {
    let mut err = std::io::stderr();
    write!(err, "{question} [{default}]: ").context("cannot write the prompt")?;
    err.flush().context("cannot write the prompt")?;
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .context("cannot read the answer")?;
    let answer = line.trim();
    Ok(if answer.is_empty() { default } else { answer }.to_string())
}

/// A name usable as a Cargo package and in YAML without quoting surprises.
fn checked_name(name: &str) -> Result<String> {
    let ok = name.len() <= 64
        && name.starts_with(|c: char| c.is_ascii_alphabetic())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if !ok {
        bail!("--name {name:?}: use letters, digits, - and _ (starting with a letter, at most 64)");
    }
    Ok(name.to_string())
}

/// The folder's name, made a valid project name.
fn name_of(dir: &Path) -> String {
    let abs = std::path::absolute(dir).unwrap_or_else(|_| dir.to_path_buf());
    let raw = abs
        .components()
        .next_back()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut name: String = raw
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect();
    name = name.trim_matches('-').to_string();
    if !name.starts_with(|c: char| c.is_ascii_alphabetic()) {
        name = format!("esb-{name}").trim_end_matches('-').to_string();
    }
    name.truncate(64);
    name
}

/// The host's Rust target, which the crate's `.cargo/config.toml` builds for.
fn host_target() -> String {
    format!("{}-unknown-linux-gnu", std::env::consts::ARCH)
}

fn sample_files(runtime: &Runtime, name: &str) -> Vec<SampleFile> {
    let target = host_target();
    let fill = |text: &str| {
        text.replace("{{name}}", name)
            .replace("{{runtime}}", &runtime.id())
            .replace("{{target}}", &target)
    };
    let file = |path, text: &str| SampleFile {
        path,
        text: fill(text),
    };
    match runtime {
        Runtime::Python { .. } => vec![
            file(
                "template.yaml",
                include_str!("init_templates/python-template.yaml"),
            ),
            file("src/hello.py", include_str!("init_templates/hello.py")),
            file("src/greeter.py", include_str!("init_templates/greeter.py")),
            file(".gitignore", include_str!("init_templates/gitignore")),
            file("README.md", include_str!("init_templates/python-README.md")),
        ],
        Runtime::Provided { .. } => vec![
            file(
                "template.yaml",
                include_str!("init_templates/rust-template.yaml"),
            ),
            file(
                "hello/Cargo.toml",
                include_str!("init_templates/Cargo.toml.tmpl"),
            ),
            file(
                "hello/.cargo/config.toml",
                include_str!("init_templates/cargo-config.toml.tmpl"),
            ),
            file(
                "hello/src/main.rs",
                include_str!("init_templates/main.rs.tmpl"),
            ),
            file("chain/app.py", include_str!("init_templates/chain.py")),
            file(".gitignore", include_str!("init_templates/rust-gitignore")),
            file("README.md", include_str!("init_templates/rust-README.md")),
        ],
    }
}

/// Builds the Rust function and puts its `bootstrap` where the template's CodeUri
/// points; without cargo, says what to run.
fn build_rust(dir: &Path) -> Result<()> {
    let crate_dir = dir.join(CRATE_DIR);
    let dist = dir.join(BOOTSTRAP_DIR);
    let Some(cargo) = find_on_path("cargo") else {
        println!(
            "esb: cargo is not on PATH, so {} is not built yet; install Rust (https://rustup.rs), then:\n  \
             cd {} && cargo build --release && mkdir -p dist && cp target/{}/release/bootstrap dist/",
            CRATE_DIR,
            crate_dir.display(),
            host_target()
        );
        return Ok(());
    };
    println!(
        "esb: building the Rust function: cargo build --release (in {}), then copying its bootstrap to {}/",
        crate_dir.display(),
        dist.display()
    );
    // Cargo reads hello/.cargo/config.toml from the working directory. The JSON
    // messages name the executable wherever the target dir is (CARGO_TARGET_DIR...).
    let out = Command::new(&cargo)
        .args([
            "build",
            "--release",
            "--message-format=json-render-diagnostics",
        ])
        .current_dir(&crate_dir)
        .stdin(Stdio::null())
        .stderr(Stdio::inherit())
        .output()
        .with_context(|| format!("cannot run {}", cargo.display()))?;
    let retry = format!(
        "the project is written; fix the build, then run `cargo build --release` in {} and copy its bootstrap to {}/",
        crate_dir.display(),
        dist.display()
    );
    if !out.status.success() {
        bail!("cargo build failed ({}); {retry}", out.status);
    }
    let built = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|m| m["reason"] == "compiler-artifact" && m["target"]["name"] == "bootstrap")
        .find_map(|m| m["executable"].as_str().map(PathBuf::from))
        .with_context(|| format!("cargo built no bootstrap executable; {retry}"))?;
    std::fs::create_dir_all(&dist).with_context(|| format!("cannot create {}", dist.display()))?;
    let dest = dist.join("bootstrap");
    std::fs::copy(&built, &dest)
        .with_context(|| format!("cannot copy {} to {}", built.display(), dest.display()))?;
    println!("esb: {} is ready", dest.display());
    Ok(())
}

fn find_on_path(program: &str) -> Option<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|d| d.join(program))
        .find(|p| {
            p.metadata()
                .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_come_from_the_folder() {
        assert_eq!(name_of(Path::new("/tmp/My App")), "my-app");
        assert_eq!(name_of(Path::new("/tmp/.tmpXy")), "tmpxy");
        assert_eq!(name_of(Path::new("/tmp/2024")), "esb-2024");
        assert!(checked_name("ok_name-1").is_ok());
        assert!(checked_name("1bad").is_err());
        assert!(checked_name("a b").is_err());
    }

    #[test]
    fn every_placeholder_is_filled() {
        for runtime in ["python3.12", "provided.al2023"] {
            let runtime = Runtime::parse(runtime).expect("runtime");
            for f in sample_files(&runtime, "demo") {
                assert!(!f.text.contains("{{"), "{} keeps a placeholder", f.path);
            }
        }
    }
}
