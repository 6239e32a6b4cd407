//! `clambake doctor`

use std::path::Path;

use clap::Args;

use super::output::print_json;
use crate::app::health::Health;
use crate::app::setup::doctor::doctor;

#[derive(Debug, Args)]
pub struct DoctorArgs {
    #[arg(long)]
    json: bool,
}

/// Prints every check; returns whether all passed (warnings pass).
pub async fn run(start: &Path, args: DoctorArgs) -> bool {
    let checks = doctor(start).await;
    if args.json {
        print_json(&checks);
    } else {
        for check in &checks {
            let mark = match check.health {
                Health::Ok => "ok  ",
                Health::Warn => "warn",
                Health::Fail => "FAIL",
            };
            println!("{mark}  {:<10}  {}", check.name, check.detail);
            if let Some(fix) = &check.fix {
                println!("      {:<10}  fix: {fix}", "");
            }
        }
    }
    checks.iter().all(|c| c.health != Health::Fail)
}
