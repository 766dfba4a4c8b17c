//! Compiles proto/rapport/v1 with protox (pure Rust, no protoc on the machine), then generates
//! the prost types, the tonic services, proto3-JSON serde impls (pbjson) and the descriptor set
//! that server reflection serves.
use prost::Message;
use std::{
    env, fs,
    path::{Path, PathBuf},
};

const PROTOS: &[&str] = &[
    "rapport/v1/common.proto",
    "rapport/v1/analyzer.proto",
    "rapport/v1/scoring.proto",
    "rapport/v1/live.proto",
    "rapport/v1/profiles.proto",
    "rapport/v1/info.proto",
];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!("cargo:rerun-if-changed=proto");
    // sqlx::migrate! embeds migrations/ at compile time.
    println!("cargo:rerun-if-changed=migrations");
    test_prerequisites();
    let out = PathBuf::from(env::var("OUT_DIR")?);
    embed_heads(&out)?;
    let fds = protox::compile(PROTOS, ["proto"])?;
    let descriptor_path = out.join("rapport_descriptor.bin");
    let bytes = fds.encode_to_vec();
    fs::write(&descriptor_path, &bytes)?;

    // Well-known types come from pbjson_types (they carry the proto3-JSON serde impls); telling
    // prost not to map them to prost_types itself avoids a duplicate `.google.protobuf` extern.
    tonic_prost_build::configure()
        .compile_well_known_types(true)
        .extern_path(".google.protobuf", "::pbjson_types")
        .compile_fds(fds)?;

    // Unknown JSON fields are skipped, never refused: CRM exports fed to `rapport score` (and
    // JSON from other producers) carry columns of their own beside the `Message` fields.
    pbjson_build::Builder::new()
        .register_descriptors(&bytes)?
        .emit_fields()
        .ignore_unknown_fields()
        .build(&[".rapport.v1"])?;
    Ok(())
}

/// Lists every file of models/ (but lexicons/, which the text pipeline compiles in itself) as
/// `(relative path, include_bytes!)` in OUT_DIR/embedded_heads.rs, so that an installed binary
/// carries its heads and `rapport models install` can write them out anywhere.
fn embed_heads(out: &Path) -> Result<(), Box<dyn std::error::Error>> {
    println!("cargo:rerun-if-changed=models");
    let root = PathBuf::from(env::var("CARGO_MANIFEST_DIR")?).join("models");
    let mut files = Vec::new();
    let mut dirs = vec![root.clone()];
    while let Some(dir) = dirs.pop() {
        for entry in fs::read_dir(&dir)? {
            let path = entry?.path();
            let rel = path
                .strip_prefix(&root)?
                .to_string_lossy()
                .replace('\\', "/");
            if path.is_dir() {
                if rel != "lexicons" {
                    dirs.push(path);
                }
            } else if !entry_name_hidden(&path) {
                files.push((rel, path));
            }
        }
    }
    files.sort();
    let mut code = String::from("&[\n");
    for (rel, path) in &files {
        code += &format!(
            "    ({rel:?}, include_bytes!({:?}) as &[u8]),\n",
            path.display().to_string()
        );
    }
    code += "]\n";
    fs::write(out.join("embedded_heads.rs"), code)?;
    Ok(())
}

fn entry_name_hidden(path: &Path) -> bool {
    path.file_name()
        .is_some_and(|n| n.to_string_lossy().starts_with('.'))
}

/// Tests that need the model bundle or ../shared are marked ignored (`cfg(rapport_no_bundle)`,
/// `cfg(rapport_no_shared)`) where it is missing, so a skip shows as ignored, never as passed.
/// Under CI=true nothing is marked: those tests run and fail, naming what is missing.
fn test_prerequisites() {
    println!("cargo::rustc-check-cfg=cfg(rapport_no_bundle)");
    println!("cargo::rustc-check-cfg=cfg(rapport_no_shared)");
    for var in ["CI", "RAPPORT_HOME", "XDG_CACHE_HOME", "HOME"] {
        println!("cargo:rerun-if-env-changed={var}");
    }
    let ci = env::var("CI").is_ok_and(|v| v == "true" || v == "1");
    let manifest = PathBuf::from(env::var("CARGO_MANIFEST_DIR").expect("set by cargo"));
    // The same place as rapport::model::default_bundle_dir.
    let nonempty = |k: &str| env::var(k).ok().filter(|v| !v.is_empty());
    let home = nonempty("RAPPORT_HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            nonempty("XDG_CACHE_HOME")
                .map(PathBuf::from)
                .unwrap_or_else(|| {
                    PathBuf::from(nonempty("HOME").unwrap_or_default()).join(".cache")
                })
                .join("rapport")
        });
    let bundle = home.join("models/multilingual-e5-small-q4");
    let checks = [
        (
            "rapport_no_bundle",
            vec![
                bundle.join("e5-small-q4.bin"),
                bundle.join("tokenizer.json"),
            ],
        ),
        (
            "rapport_no_shared",
            vec![manifest
                .parent()
                .unwrap_or(&manifest)
                .join("shared/datasets")],
        ),
    ];
    for (cfg, paths) in checks {
        // Watching a path that is missing reruns this script on every build, so the cfg follows
        // an install; a present one reruns it when it goes.
        for p in &paths {
            println!("cargo:rerun-if-changed={}", watched(p, &manifest).display());
        }
        if !ci && !paths.iter().all(|p| p.exists()) {
            println!("cargo:rustc-cfg={cfg}");
        }
    }
}

/// `path`, or where missing, its nearest existing ancestor (its contents change when the path
/// appears) unless that is near the root or holds the project (and its build outputs, which
/// change on every build); then the missing path itself, which reruns the script every build.
fn watched(path: &Path, manifest: &Path) -> PathBuf {
    if path.exists() {
        return path.to_path_buf();
    }
    path.ancestors()
        .skip(1)
        .take_while(|a| a.components().count() > 2 && !manifest.starts_with(a))
        .find(|a| a.exists())
        .unwrap_or(path)
        .to_path_buf()
}
