//! `strata scan TARGET`: the known vulnerabilities of the packages an image carries, from
//! the offline OSV database (`strata scan db`), and with `--secrets` the secrets its layers
//! hold, including files a later layer deleted. Output and flags follow Trivy's where the
//! two meet (`--severity`, `--exit-code`, `--ignore-unfixed`, `--format`).

use std::io::Write;
use std::path::PathBuf;

use anyhow::Context as _;
use clap::{Args, Subcommand};
use scan::matching::{MatchOptions, Severity};
use scan::osv_db::Db;
use scan::report::Report;
use scan::secrets::Scanner;

use super::{Ctx, ExitStatus, output_file, scan_db, scan_render, scan_target};

/// `strata scan`.
#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
pub struct ScanArgs {
    /// Manage the vulnerability database.
    #[command(subcommand)]
    pub command: Option<ScanCommand>,
    /// Only report vulnerabilities of these severities (comma-separated: UNKNOWN, LOW,
    /// MEDIUM, HIGH, CRITICAL).
    #[arg(long, value_delimiter = ',', value_name = "SEVERITIES")]
    pub severity: Vec<String>,
    /// The exit code when anything is reported (vulnerabilities or secrets).
    #[arg(long, default_value_t = 0, value_name = "N")]
    pub exit_code: i32,
    /// The output format: table, json, sarif, or cyclonedx-vex.
    #[arg(long, default_value = "table", value_parser = ["table", "json", "sarif", "cyclonedx-vex"])]
    pub format: String,
    /// Leave out vulnerabilities that have no fixed version.
    #[arg(long)]
    pub ignore_unfixed: bool,
    /// Also look for secrets (private keys, access keys, tokens) in every layer.
    #[arg(long)]
    pub secrets: bool,
    /// What to look for, comma-separated: vuln, secret (as Trivy's --scanners).
    #[arg(
        long,
        value_delimiter = ',',
        value_name = "SCANNERS",
        default_value = "vuln"
    )]
    pub scanners: Vec<String>,
    /// Write the report to this file instead of standard output.
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Which image of a multi-platform index (os/arch[/variant]); the host's by default.
    #[arg(long, value_name = "PLATFORM")]
    pub platform: Option<String>,
    /// Verify TLS certificates of the registry (false also allows plain HTTP).
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set, value_name = "BOOL")]
    pub tls_verify: bool,
    /// The image (a local name, `docker://REF`, `oci:DIR[:NAME]`, an archive file) or a
    /// root filesystem directory.
    #[arg(value_name = "IMAGE|DIR", required = true)]
    pub target: Option<String>,
}

/// `strata scan db ...`.
#[derive(Debug, Subcommand)]
pub enum ScanCommand {
    /// Manage the offline vulnerability database.
    #[command(subcommand)]
    Db(scan_db::DbCommand),
}

/// Scans and renders; the exit code is `--exit-code` when anything was reported.
pub fn run(ctx: &Ctx, args: ScanArgs, out: &mut dyn Write) -> anyhow::Result<()> {
    if let Some(ScanCommand::Db(cmd)) = args.command {
        return scan_db::run(ctx, cmd, out);
    }
    let target_text = args.target.as_deref().unwrap_or_default();
    let mut vulns = false;
    let mut secrets = args.secrets;
    for s in &args.scanners {
        match s.as_str() {
            "vuln" => vulns = true,
            "secret" => secrets = true,
            other => anyhow::bail!("--scanners: unknown scanner {other:?} (use vuln, secret)"),
        }
    }
    let opts = MatchOptions {
        severities: severities(&args.severity)?,
        ignore_unfixed: args.ignore_unfixed,
    };
    // The database first: a missing one is said before a long walk.
    let db = if vulns {
        Some(Db::open_read_only(
            &store::Layout::new(&ctx.root).vulnerability_db(),
        )?)
    } else {
        None
    };
    let target = scan_target::parse(ctx, target_text)?;
    let catalogers = scan::catalog::all();
    let scanner = secrets.then(Scanner::builtin);
    let (info, inventory) = scan_target::inventory(
        ctx,
        &target,
        target_text,
        args.platform.as_deref(),
        args.tls_verify,
        &catalogers,
        scanner.as_ref(),
    )?;
    let (findings, data_date) = match &db {
        Some(db) => {
            let findings =
                scan::matching::scan(&inventory.packages, inventory.distro.as_ref(), db, &opts)
                    .with_context(|| format!("matching the packages of {target_text}"))?;
            // How fresh the data is: its newest record's `modified` (an import of old
            // archives today is still old data).
            let date = db
                .newest_modified()?
                .map(|d| d.to_rfc3339_opts(chrono::SecondsFormat::Secs, true));
            (findings, date)
        }
        None => (Default::default(), None),
    };
    let report = Report {
        image: &info,
        distro: inventory.distro.as_ref(),
        packages: &inventory.packages,
        findings: &findings,
        data_date: data_date.as_deref(),
    };
    output_file::write_to(args.output.as_deref(), out, |w| {
        scan_render::write(&args.format, &report, vulns, &inventory, w)
    })?;
    let reported = !findings.vulnerabilities.is_empty() || !inventory.secrets.is_empty();
    if reported && args.exit_code != 0 {
        return Err(ExitStatus::code(args.exit_code));
    }
    Ok(())
}

/// `--severity` values, upper-cased as Trivy accepts them.
fn severities(given: &[String]) -> anyhow::Result<Option<Vec<Severity>>> {
    if given.is_empty() {
        return Ok(None);
    }
    given
        .iter()
        .map(|s| {
            s.trim().to_ascii_uppercase().parse::<Severity>().map_err(|_| {
                anyhow::anyhow!(
                    "--severity: unknown severity {s:?} (use UNKNOWN, LOW, MEDIUM, HIGH, CRITICAL)"
                )
            })
        })
        .collect::<anyhow::Result<Vec<_>>>()
        .map(Some)
}
