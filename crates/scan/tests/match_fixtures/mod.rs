//! The hand-written OSV records of `tests/fixtures/match/`, shared by the matching, report
//! and range differential tests.

use std::path::Path;

use osv::schema::Vulnerability;

/// Every fixture record, in file-name order (so seeded generators see the same sequence on
/// every filesystem).
pub fn records() -> Vec<Vulnerability> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/match");
    let mut paths: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    paths.sort();
    paths
        .iter()
        .map(|path| {
            let text = std::fs::read_to_string(path).unwrap();
            serde_json::from_str(&text)
                .unwrap_or_else(|e| panic!("{}: not an OSV record: {e}", path.display()))
        })
        .collect()
}
