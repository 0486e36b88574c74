//! `esb reset`: `esb down --volumes`, then `esb up` again — a clean box with the same
//! settings. It deletes data, so it asks first (or takes `--yes`).

use std::io::{BufRead, IsTerminal, Write};

use anyhow::{Result, bail};
use clap::Args;

use crate::up_command::UpArgs;

#[derive(Args)]
#[command(after_help = "Examples:\n  esb reset --yes\n  esb reset --yes --detach --wait")]
pub struct ResetArgs {
    /// Do not ask before removing the box's data.
    #[arg(long, short)]
    pub yes: bool,
    #[command(flatten)]
    pub up: UpArgs,
}

pub fn run(args: ResetArgs) -> Result<()> {
    let state_dir = args.up.project.state_dir();
    if !args.yes {
        if !std::io::stdin().is_terminal() {
            bail!(
                "esb reset removes the box's data in {}; pass --yes to confirm",
                state_dir.display()
            );
        }
        print!(
            "Remove the box of {} and its data (queued events, logs), then start it again? [y/N] ",
            state_dir.display()
        );
        std::io::stdout().flush()?;
        let mut answer = String::new();
        std::io::stdin().lock().read_line(&mut answer)?;
        if !matches!(answer.trim(), "y" | "Y" | "yes") {
            println!("esb: nothing changed");
            return Ok(());
        }
    }
    crate::down_command::run(crate::down_command::DownArgs {
        project: args.up.project.clone(),
        runtime: args.up.runtime.clone(),
        volumes: true,
    })?;
    crate::up_command::run(args.up)
}
