//! Helpers shared by the integration tests (`mod common;` in each test file).
#![allow(dead_code)]

pub mod mime;
pub mod server;
pub mod tiny;

use std::path::{Path, PathBuf};

/// The installed model bundle's directory. Tests that call this carry
/// `#[cfg_attr(rapport_no_bundle, ignore = ...)]` (build.rs sets it where the bundle is missing,
/// except under CI=true): so they show as ignored, and under CI they fail here, naming it.
pub fn bundle_dir() -> PathBuf {
    let dir = rapport::model::default_bundle_dir();
    for f in ["e5-small-q4.bin", "tokenizer.json"] {
        assert!(
            dir.join(f).is_file(),
            "missing prerequisite: no model bundle at {} ({f} not found); run scripts/install-model.sh",
            dir.display()
        );
    }
    dir
}

/// ../shared/datasets, beside the project (`cfg(rapport_no_shared)`, as for the bundle).
pub fn shared_datasets() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/datasets");
    assert!(
        dir.is_dir(),
        "missing prerequisite: {} not found (the team's shared datasets, beside the project)",
        dir.display()
    );
    dir
}
pub mod pg;
