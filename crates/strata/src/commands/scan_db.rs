//! `strata scan db import|update|status`: the offline vulnerability database in the store
//! (`scan/osv.db`), filled from osv.dev's per-ecosystem `all.zip` archives or OSV records.

use std::io::Write;
use std::path::PathBuf;

use anyhow::Context as _;
use clap::Subcommand;
use scan::osv_db::{self, Db, ImportReport};

use super::{Ctx, util};

/// `strata scan db ...`.
#[derive(Debug, Subcommand)]
pub enum DbCommand {
    /// Import OSV records: osv.dev's all.zip archives, .json records, or directories of
    /// them. Each path is imported whole or not at all.
    Import {
        /// Files or directories to import.
        #[arg(required = true, value_name = "FILE|DIR")]
        paths: Vec<PathBuf>,
    },
    /// Download osv.dev's all.zip archives and import them (needs network access).
    Update {
        /// Where the archives are (`<URL>/<ecosystem>/all.zip`, osv.dev's layout).
        #[arg(long, default_value = osv_db::DEFAULT_URL, value_name = "URL")]
        url: String,
        /// Which ecosystems (comma-separated); all the scanner judges by default.
        #[arg(long = "ecosystem", value_delimiter = ',', value_name = "ECOSYSTEMS")]
        ecosystems: Vec<String>,
    },
    /// Show which ecosystems the database holds and how old their data is.
    Status,
}

/// Runs a `scan db` command.
pub fn run(ctx: &Ctx, cmd: DbCommand, out: &mut dyn Write) -> anyhow::Result<()> {
    let path = store::Layout::new(&ctx.root).vulnerability_db();
    match cmd {
        DbCommand::Import { paths } => {
            let mut db = open_for_writing(&path)?;
            for p in paths {
                let report = db.import(&p).with_context(|| {
                    format!("importing {} (the database is unchanged)", p.display())
                })?;
                print_import(out, &p.display().to_string(), &report)?;
            }
            Ok(())
        }
        DbCommand::Update { url, ecosystems } => update(&path, &url, &ecosystems, out),
        DbCommand::Status => status(&path, out),
    }
}

fn open_for_writing(path: &std::path::Path) -> anyhow::Result<Db> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    Ok(Db::open(path)?)
}

/// Downloads every ecosystem's archive into a temporary directory first, then imports them
/// in one transaction: a failed download leaves the database as it was.
fn update(
    path: &std::path::Path,
    url: &str,
    ecosystems: &[String],
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    let wanted: Vec<String> = if ecosystems.is_empty() {
        osv_db::SCANNED_ECOSYSTEMS
            .iter()
            .map(|e| e.to_string())
            .collect()
    } else {
        ecosystems.to_vec()
    };
    let dir = tempfile::Builder::new()
        .prefix("strata-osv-")
        .tempdir()
        .context("creating a download directory")?;
    let client = reqwest::Client::builder()
        .user_agent(concat!("strata/", env!("CARGO_PKG_VERSION")))
        .build()
        .context("making the HTTP client")?;
    let url = url.trim_end_matches('/');
    for (i, eco) in wanted.iter().enumerate() {
        let from = osv_db::ecosystem_zip_url(url, eco);
        let dest = dir.path().join(format!("{i:02}-all.zip"));
        let bytes = util::block_on(scan::fetch::download(&client, &from, &dest))??;
        writeln!(out, "downloaded {from} ({bytes} bytes)")?;
    }
    let mut db = open_for_writing(path)?;
    let report = db
        .import_from(dir.path(), url)
        .context("importing the downloaded archives (the database is unchanged)")?;
    print_import(out, url, &report)
}

fn print_import(out: &mut dyn Write, what: &str, r: &ImportReport) -> anyhow::Result<()> {
    let mut tw = tabwriter::TabWriter::new(&mut *out).padding(3);
    writeln!(tw, "ECOSYSTEM\tADDED\tREPLACED\tUNCHANGED")?;
    for (eco, c) in &r.by_ecosystem {
        writeln!(tw, "{eco}\t{}\t{}\t{}", c.added, c.replaced, c.unchanged)?;
    }
    tw.flush()?;
    drop(tw);
    writeln!(
        out,
        "imported {what}: {} records added, {} replaced, {} unchanged",
        r.total.added, r.total.replaced, r.total.unchanged
    )?;
    Ok(())
}

fn status(path: &std::path::Path, out: &mut dyn Write) -> anyhow::Result<()> {
    let db = Db::open_read_only(path)?;
    let s = db.status()?;
    let date = |d: Option<chrono::DateTime<chrono::Utc>>| {
        d.map_or_else(
            || "-".to_string(),
            |d| d.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
        )
    };
    let mut tw = tabwriter::TabWriter::new(&mut *out).padding(3);
    writeln!(
        tw,
        "ECOSYSTEM\tRECORDS\tWITHDRAWN\tNEWEST RECORD\tIMPORTED\tSOURCE"
    )?;
    for e in &s.ecosystems {
        writeln!(
            tw,
            "{}\t{}\t{}\t{}\t{}\t{}",
            e.ecosystem,
            e.records,
            e.withdrawn,
            date(e.newest_modified),
            date(e.imported_at),
            e.source.as_deref().unwrap_or("-")
        )?;
    }
    tw.flush()?;
    drop(tw);
    writeln!(
        out,
        "{} records in {}; data as of {}",
        s.records,
        db.path().display(),
        date(db.data_date()?)
    )?;
    Ok(())
}
