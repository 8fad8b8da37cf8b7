//! Replays every committed fuzz input (`fuzz/seeds/TARGET/*` and
//! `fuzz/regressions/TARGET/*`) through the fuzz targets' own bodies
//! (`fuzz/targets/`), without libFuzzer, so `cargo test` alone catches a
//! regression of anything the fuzzers ever found or covered.
//!
//! A crash input of a bug that is not fixed yet is committed as
//! `fuzz/regressions/TARGET/bug-*`: the normal replay skips it and the
//! ignored test `open_bugs_still_fail` replays it. Once the bug is fixed,
//! drop the `bug-` prefix so the input is replayed on every run.

#[path = "../fuzz/targets/mod.rs"]
mod targets;

use std::fs;
use std::path::{Path, PathBuf};

/// The files in `fuzz/KIND/TARGET/`, sorted; none if the folder is missing.
fn inputs(kind: &str, target: &str) -> Vec<PathBuf> {
    let folder = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz")
        .join(kind)
        .join(target);
    let Ok(entries) = fs::read_dir(&folder) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = entries
        .map(|entry| entry.expect("readable fuzz folder").path())
        .filter(|path| path.is_file())
        .collect();
    files.sort();
    files
}

/// Whether a regression input belongs to a bug that is still open.
fn is_open_bug(path: &Path) -> bool {
    path.file_name()
        .and_then(|name| name.to_str())
        .is_some_and(|name| name.starts_with("bug-"))
}

/// Runs `target` on each file, naming the file that fails.
fn replay(target: &str, run: targets::Target, files: &[PathBuf]) {
    for file in files {
        let data = fs::read(file).expect("readable fuzz input");
        let outcome = std::panic::catch_unwind(|| run(&data));
        assert!(
            outcome.is_ok(),
            "fuzz target {target} fails on {}",
            file.display()
        );
    }
}

/// Every libFuzzer entry point (`fuzz/fuzz_targets/NAME.rs`) is replayed:
/// a target missing from `targets::TARGETS` would be fuzzed but never
/// replayed by `cargo test`.
#[test]
fn every_fuzz_target_is_replayed() {
    let folder = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/fuzz_targets");
    let entries = fs::read_dir(&folder).expect("fuzz/fuzz_targets/ exists");
    for entry in entries {
        let path = entry.expect("readable fuzz folder").path();
        let Some(name) = path.file_stem().and_then(|stem| stem.to_str()) else {
            continue;
        };
        assert!(
            targets::TARGETS.iter().any(|&(target, _)| target == name),
            "fuzz/fuzz_targets/{name}.rs has no entry in fuzz/targets/mod.rs TARGETS"
        );
    }
}

#[test]
fn every_seed_passes_its_target() {
    for &(target, run) in targets::TARGETS {
        let files = inputs("seeds", target);
        assert!(
            !files.is_empty(),
            "fuzz/seeds/{target}/ is empty: the replay would prove nothing"
        );
        replay(target, run, &files);
    }
}

#[test]
fn every_regression_passes_its_target() {
    for &(target, run) in targets::TARGETS {
        let files: Vec<PathBuf> = inputs("regressions", target)
            .into_iter()
            .filter(|path| !is_open_bug(path))
            .collect();
        replay(target, run, &files);
    }
}

#[test]
#[ignore = "replays the crash inputs of open bugs (fuzz/regressions/*/bug-*)"]
fn open_bugs_still_fail() {
    for &(target, run) in targets::TARGETS {
        let files: Vec<PathBuf> = inputs("regressions", target)
            .into_iter()
            .filter(|path| is_open_bug(path))
            .collect();
        replay(target, run, &files);
    }
}
