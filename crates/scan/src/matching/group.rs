//! One finding per vulnerability per package: records that alias each other are merged.
//!
//! OSV data describes one vulnerability in several records (PyPI's `PYSEC-…` and GitHub's
//! `GHSA-…` for the same package, each listing the other and the CVE in `aliases`); a
//! report row per record would show one flaw twice. Findings for the same package whose
//! ids and aliases share any identifier (transitively) become one: its id is a `CVE-` id
//! if one of the records has it, else a `GHSA-` id, else the smallest; the other ids join
//! its aliases; the most severe rating wins (a scored one over an unscored tie); the fixed
//! version is the largest any record names (all the records' fixes are needed).

use std::collections::HashMap;

use super::Finding;
use super::ecosystem::Order;

/// How much an id is preferred as the shown one (lower first).
fn rank(id: &str) -> u8 {
    if id.starts_with("CVE-") {
        0
    } else if id.starts_with("GHSA-") {
        1
    } else {
        2
    }
}

/// Merges aliasing findings of one package; `order` compares their fixed versions.
pub fn merge(findings: Vec<Finding>, order: Order) -> Vec<Finding> {
    let n = findings.len();
    let mut parent: Vec<usize> = (0..n).collect();
    fn root(parent: &mut [usize], mut i: usize) -> usize {
        while parent[i] != i {
            parent[i] = parent[parent[i]];
            i = parent[i];
        }
        i
    }
    let mut first: HashMap<&str, usize> = HashMap::new();
    for (i, f) in findings.iter().enumerate() {
        for name in std::iter::once(&f.id).chain(&f.aliases) {
            match first.get(name.as_str()) {
                Some(&j) => {
                    let (a, b) = (root(&mut parent, i), root(&mut parent, j));
                    parent[a] = b;
                }
                None => {
                    first.insert(name, i);
                }
            }
        }
    }
    let mut groups: Vec<Vec<usize>> = Vec::new();
    let mut group_of: HashMap<usize, usize> = HashMap::new();
    for i in 0..n {
        let r = root(&mut parent, i);
        let g = *group_of.entry(r).or_insert_with(|| {
            groups.push(Vec::new());
            groups.len() - 1
        });
        groups[g].push(i);
    }
    let mut slots: Vec<Option<Finding>> = findings.into_iter().map(Some).collect();
    groups
        .into_iter()
        .map(|members| {
            let mut group: Vec<Finding> = members
                .iter()
                .map(|&i| slots[i].take().expect("once"))
                .collect();
            if group.len() == 1 {
                return group.pop().expect("one");
            }
            combine(group, order)
        })
        .collect()
}

fn combine(mut group: Vec<Finding>, order: Order) -> Finding {
    group.sort_by(|a, b| rank(&a.id).cmp(&rank(&b.id)).then_with(|| a.id.cmp(&b.id)));
    let mut names: Vec<String> = group
        .iter()
        .flat_map(|f| std::iter::once(f.id.clone()).chain(f.aliases.iter().cloned()))
        .collect();
    let best_rating = group
        .iter()
        .map(|f| f.rating.clone())
        .max_by(|a, b| {
            a.severity
                .cmp(&b.severity)
                .then_with(|| a.score.is_some().cmp(&b.score.is_some()))
        })
        .expect("a group is not empty");
    let fixed = group
        .iter()
        .filter_map(|f| f.fixed.clone())
        .max_by(|a, b| order.compare(a, b));
    let summary = group.iter().find_map(|f| f.summary.clone());
    let url = group.iter().find_map(|f| f.url.clone());
    let mut out = group.swap_remove(0);
    names.sort();
    names.dedup();
    names.retain(|n| *n != out.id);
    out.aliases = names;
    out.rating = best_rating;
    out.fixed = fixed;
    out.summary = out.summary.or(summary);
    out.url = out.url.or(url);
    out
}
