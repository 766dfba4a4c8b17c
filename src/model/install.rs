//! The task heads built into the binary, and where a binary finds its heads.
//!
//! The build embeds `models/` (manifest, heads, adapter: about 1.3 MB; not the lexicons, which
//! the text pipeline compiles in itself), so a binary copied away from its checkout can still
//! write its own heads out with `rapport models install`, beside the encoder bundle under
//! `$RAPPORT_HOME/models/`. The server keeps reading heads from a directory (the one format
//! `train` writes and `--heads-dir` names), so retrained heads need no rebuild.
use std::path::{Path, PathBuf};

use super::heads::MANIFEST_FILE;
use super::source::rapport_home;
use crate::{Error, Result};

/// `(path under models/, contents)` of every file of the checkout's `models/` at build time.
pub static EMBEDDED_HEADS: &[(&str, &[u8])] =
    include!(concat!(env!("OUT_DIR"), "/embedded_heads.rs"));

/// Directory name of the installed heads under `$RAPPORT_HOME/models`, beside the bundle.
pub const INSTALLED_HEADS_NAME: &str = "heads";

/// Written into a directory `install_heads` filled, so that it never replaces heads someone
/// put there by other means (a training run's output) without `--force`.
const MARKER_FILE: &str = ".installed-by-rapport";

/// `$RAPPORT_HOME/models/heads`: where `rapport models install` puts the heads.
pub fn installed_heads_dir() -> PathBuf {
    rapport_home().join("models").join(INSTALLED_HEADS_NAME)
}

/// The default `--heads-dir`: `./models` when run from a checkout; else, for a binary still
/// inside the checkout it was built in (target/), that checkout's; else the installed heads
/// (whether or not they are there yet: the error for a missing manifest then says how to
/// install them). A binary copied elsewhere never reads the build machine's checkout, so it
/// behaves the same on the build machine as on any other.
pub fn default_heads_dir() -> PathBuf {
    let local = PathBuf::from("models");
    [Some(local), checkout_of_this_binary()]
        .into_iter()
        .flatten()
        .find(|d| d.join(MANIFEST_FILE).is_file())
        .unwrap_or_else(installed_heads_dir)
}

fn checkout_of_this_binary() -> Option<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).canonicalize().ok()?;
    let exe = std::env::current_exe().ok()?.canonicalize().ok()?;
    exe.starts_with(&root).then(|| root.join("models"))
}

/// The error for a heads directory without a manifest: it names both ways out.
pub fn missing_heads(dir: &Path) -> Error {
    Error::model(format!(
        "no task heads in {}: {MANIFEST_FILE} not found. Point --heads-dir (or \
         RAPPORT_HEADS_DIR) at a directory holding {MANIFEST_FILE} and the heads, or run \
         `rapport models install` to write the heads built into this binary to {} (where the \
         server looks by default)",
        dir.display(),
        installed_heads_dir().display()
    ))
}

/// Whether `dir` holds exactly the embedded files' contents (extra files are not looked at).
pub fn heads_match_embedded(dir: &Path) -> bool {
    EMBEDDED_HEADS
        .iter()
        .all(|(rel, bytes)| std::fs::read(dir.join(rel)).is_ok_and(|b| b == *bytes))
}

/// What [`install_heads`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HeadsInstall {
    /// The directory already held these heads.
    AlreadyThere,
    /// The heads were written (into a new directory or over an older install).
    Written,
}

/// Writes the embedded heads into `dest`. The files are staged beside it and swapped in with
/// renames, so a reader never sees half a set and no file of an older set is left behind. A
/// non-empty `dest` that this function did not fill is refused unless `force`.
pub fn install_heads(dest: &Path, force: bool) -> Result<HeadsInstall> {
    if EMBEDDED_HEADS.is_empty() {
        return Err(Error::model(
            "this binary was built without heads (models/ was empty)".to_string(),
        ));
    }
    let ours = dest.join(MARKER_FILE).is_file();
    if ours && !force && heads_match_embedded(dest) {
        return Ok(HeadsInstall::AlreadyThere);
    }
    let occupied = std::fs::read_dir(dest).is_ok_and(|mut d| d.next().is_some());
    if occupied && !ours && !force {
        return Err(Error::model(format!(
            "{} holds files that `rapport models install` did not put there; not replacing them \
             (pass --force to replace the directory, or --heads-dir to install elsewhere)",
            dest.display()
        )));
    }
    let name = dest
        .file_name()
        .ok_or_else(|| Error::model(format!("{}: not a directory name", dest.display())))?
        .to_string_lossy()
        .into_owned();
    let parent = match dest.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    std::fs::create_dir_all(&parent).map_err(|e| Error::io(&parent, e))?;
    let pid = std::process::id();
    let stage = parent.join(format!(".{name}.new-{pid}"));
    let old = parent.join(format!(".{name}.old-{pid}"));
    let _ = std::fs::remove_dir_all(&stage);
    let result = (|| {
        for (rel, bytes) in EMBEDDED_HEADS {
            let path = stage.join(rel);
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
            }
            std::fs::write(&path, bytes).map_err(|e| Error::io(&path, e))?;
        }
        let marker = stage.join(MARKER_FILE);
        let note = format!("rapport {} (rapport models install)\n", crate::VERSION);
        std::fs::write(&marker, note).map_err(|e| Error::io(&marker, e))?;
        if dest.exists() {
            std::fs::rename(dest, &old).map_err(|e| Error::io(dest, e))?;
        }
        std::fs::rename(&stage, dest).map_err(|e| Error::io(dest, e))
    })();
    let _ = std::fs::remove_dir_all(&stage);
    let _ = std::fs::remove_dir_all(&old);
    result.map(|()| HeadsInstall::Written)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_heads_are_the_checkouts_models() {
        let models = Path::new(env!("CARGO_MANIFEST_DIR")).join("models");
        assert!(EMBEDDED_HEADS.iter().any(|(r, _)| *r == MANIFEST_FILE));
        assert!(heads_match_embedded(&models));
        // Every head the manifest names travels with the binary.
        let manifest = super::super::heads::Manifest::load(&models).unwrap();
        for head in &manifest.heads {
            for f in ["head.json", "head.safetensors"] {
                let rel = format!("{head}/{f}");
                assert!(EMBEDDED_HEADS.iter().any(|(r, _)| *r == rel), "{rel}");
            }
        }
    }

    #[test]
    fn install_writes_replaces_and_refuses_foreign_directories() {
        let tmp = tempfile::tempdir().unwrap();
        let dest = tmp.path().join("a/heads");
        assert_eq!(install_heads(&dest, false).unwrap(), HeadsInstall::Written);
        assert!(heads_match_embedded(&dest));
        assert_eq!(
            install_heads(&dest, false).unwrap(),
            HeadsInstall::AlreadyThere
        );
        // An older install (a changed file, a stale one) is replaced whole.
        std::fs::write(dest.join(MANIFEST_FILE), "{}").unwrap();
        std::fs::write(dest.join("stale.json"), "{}").unwrap();
        assert_eq!(install_heads(&dest, false).unwrap(), HeadsInstall::Written);
        assert!(heads_match_embedded(&dest));
        assert!(!dest.join("stale.json").exists());
        // Heads put there by hand are not ours to replace.
        let foreign = tmp.path().join("mine");
        std::fs::create_dir_all(&foreign).unwrap();
        std::fs::write(foreign.join(MANIFEST_FILE), "{}").unwrap();
        let err = install_heads(&foreign, false).unwrap_err().to_string();
        assert!(err.contains("--force"), "{err}");
        assert_eq!(
            install_heads(&foreign, true).unwrap(),
            HeadsInstall::Written
        );
        assert!(heads_match_embedded(&foreign));
    }

    #[test]
    fn a_missing_manifest_names_the_flag_and_the_command() {
        let tmp = tempfile::tempdir().unwrap();
        let err = super::super::heads::Manifest::load(tmp.path())
            .unwrap_err()
            .to_string();
        assert!(err.contains("--heads-dir"), "{err}");
        assert!(err.contains("rapport models install"), "{err}");
    }
}
