//! `strata top`: the host's `ps` output for a container's processes.

use std::io::Write;

use super::{Ctx, container};
use crate::cli::TopArgs;

/// Runs `ps` (default `-ef`) on the host and keeps the header and the container's rows.
pub fn run(ctx: &Ctx, args: TopArgs, out: &mut dyn Write) -> anyhow::Result<()> {
    let (c, rt) = container::load(ctx, &args.container)?;
    if c.observed(&rt)?.status != runtime::Status::Running {
        anyhow::bail!("container {} is not running", c.record.id);
    }
    let pids = rt.ps(&c.record.id, &c.dir.runtime_log())?;
    let ps_args = if args.ps_args.is_empty() {
        vec!["-ef".to_string()]
    } else {
        args.ps_args
    };
    let output = std::process::Command::new("ps")
        .args(&ps_args)
        .output()
        .map_err(|e| anyhow::anyhow!("running ps {}: {e}", ps_args.join(" ")))?;
    if !output.status.success() {
        anyhow::bail!(
            "ps {} failed: {}",
            ps_args.join(" "),
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    let text = String::from_utf8_lossy(&output.stdout);
    out.write_all(filter_ps(&text, &pids)?.as_bytes())?;
    Ok(())
}

/// The header of `ps` output and the rows whose PID column is one of `pids`.
fn filter_ps(text: &str, pids: &[i32]) -> anyhow::Result<String> {
    let mut lines = text.lines();
    let header = lines.next().unwrap_or_default();
    let col = header
        .split_whitespace()
        .position(|h| h == "PID")
        .ok_or_else(|| anyhow::anyhow!("Couldn't find PID field in ps output"))?;
    let mut out = format!("{header}\n");
    for l in lines {
        let pid = l
            .split_whitespace()
            .nth(col)
            .and_then(|p| p.parse::<i32>().ok());
        if pid.is_some_and(|p| pids.contains(&p)) {
            out.push_str(l);
            out.push('\n');
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_containers_rows() {
        let text = "UID PID PPID CMD\nroot 1 0 init\nroot 42 1 sleep 9\nroot 43 42 sh\n";
        assert_eq!(
            filter_ps(text, &[42, 43]).unwrap(),
            "UID PID PPID CMD\nroot 42 1 sleep 9\nroot 43 42 sh\n"
        );
        assert!(filter_ps("A B\n1 2\n", &[1]).is_err());
    }
}
