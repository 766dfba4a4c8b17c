//! Resuming a stopped run. The output is written in whole lines; at each checkpoint it is
//! flushed and fsynced, then `<output>.checkpoint` is replaced atomically (a temporary file,
//! fsynced, renamed over it) with what the run had consumed and written. A run killed at any
//! point (SIGKILL included) leaves a checkpoint that matches a prefix of its output; the next
//! run cuts the output back to that prefix (dropping any line written after it, whole or half)
//! and goes on with the record after the last one consumed: no duplicate, no gap.
use std::{
    io::{Read, Write},
    path::{Path, PathBuf},
};

use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};

use super::{input, summary::Counts};
use crate::{Error, Result};

const VERSION: u32 = 1;
/// Bytes of a file's start that its fingerprint hashes.
const HEAD_BYTES: u64 = 1 << 20;

/// What identifies the input: a file by its size, modification time and first megabyte; a
/// folder by the path, size and modification time of each file it reads.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fingerprint {
    pub path: String,
    pub size: u64,
    pub modified_ns: u64,
    pub sha256: String,
}

pub fn fingerprint(path: &Path) -> Result<Fingerprint> {
    let meta = std::fs::metadata(path).map_err(|e| Error::io(path, e))?;
    let canonical = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
    let modified = |m: &std::fs::Metadata| {
        m.modified()
            .ok()
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .map_or(0, |d| d.as_nanos() as u64)
    };
    let mut hash = Sha256::new();
    let mut size = meta.len();
    if meta.is_dir() {
        size = 0;
        for rel in input::list_files(path, |_| true)? {
            let m = std::fs::metadata(path.join(&rel)).map_err(|e| Error::io(&rel, e))?;
            size += m.len();
            hash.update(format!(
                "{}\t{}\t{}\n",
                input::slash_path(&rel),
                m.len(),
                modified(&m)
            ));
        }
    } else {
        let f = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
        let mut head = Vec::new();
        f.take(HEAD_BYTES)
            .read_to_end(&mut head)
            .map_err(|e| Error::io(path, e))?;
        hash.update(&head);
    }
    Ok(Fingerprint {
        path: canonical.display().to_string(),
        size,
        modified_ns: modified(&meta),
        sha256: hex::encode(hash.finalize()),
    })
}

/// Where a run stood at its last checkpoint.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Checkpoint {
    pub version: u32,
    pub input: Fingerprint,
    /// The options that shape the output (`super::output_options`): a resumed run must write
    /// its lines as the first did.
    pub options: Value,
    /// Records of the input consumed (this shard's written, other shards' skipped).
    pub consumed: u64,
    /// Bytes of the output written whole by then.
    pub output_bytes: u64,
    /// The summary's counts by then.
    pub counts: Counts,
}

/// `<output>.checkpoint`, beside the output.
pub fn path_for(output: &Path) -> PathBuf {
    let mut name = output.as_os_str().to_owned();
    name.push(".checkpoint");
    PathBuf::from(name)
}

pub fn load(path: &Path) -> Result<Option<Checkpoint>> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(Error::io(path, e)),
    };
    let cp: Checkpoint = serde_json::from_str(&text).map_err(|e| {
        Error::invalid(
            "--output",
            format!(
                "{} is not a checkpoint this version reads ({e}); give --restart to start over",
                path.display()
            ),
        )
    })?;
    if cp.version != VERSION {
        return Err(Error::invalid(
            "--output",
            format!(
                "{} is a version {} checkpoint, this rapport writes version {VERSION}; give \
                 --restart to start over",
                path.display(),
                cp.version
            ),
        ));
    }
    Ok(Some(cp))
}

impl Checkpoint {
    pub fn new(input: Fingerprint, options: Value) -> Self {
        Checkpoint {
            version: VERSION,
            input,
            options,
            consumed: 0,
            output_bytes: 0,
            counts: Counts::default(),
        }
    }

    /// Refuses to resume a run of another input or other options, saying what differs.
    pub fn check(&self, path: &Path, input: &Fingerprint, options: &Value) -> Result<()> {
        let mut differ = Vec::new();
        if &self.input != input {
            differ.push(format!(
                "the input ({} of {} bytes then, {} of {} bytes now, or its content or time \
                 changed)",
                self.input.path, self.input.size, input.path, input.size
            ));
        }
        if let (Value::Object(then), Value::Object(now)) = (&self.options, options) {
            let keys: std::collections::BTreeSet<&String> = then.keys().chain(now.keys()).collect();
            for k in keys {
                if then.get(k) != now.get(k) {
                    differ.push(format!(
                        "{k} ({} then, {} now)",
                        then.get(k).unwrap_or(&Value::Null),
                        now.get(k).unwrap_or(&Value::Null)
                    ));
                }
            }
        }
        if differ.is_empty() {
            return Ok(());
        }
        Err(Error::invalid(
            "--output",
            format!(
                "{} belongs to another run: {} differ. Run with that run's input and flags to \
                 resume it, or give --restart to start over (the output is then written anew)",
                path.display(),
                differ.join("; ")
            ),
        ))
    }

    /// Replaces the checkpoint at `path` atomically: the old one or the new one, never half.
    pub fn save(&self, path: &Path) -> Result<()> {
        let mut tmp = path.as_os_str().to_owned();
        tmp.push(".tmp");
        let tmp = PathBuf::from(tmp);
        let bytes = serde_json::to_vec(self).expect("a checkpoint serialises");
        let mut f = std::fs::File::create(&tmp).map_err(|e| Error::io(&tmp, e))?;
        f.write_all(&bytes).map_err(|e| Error::io(&tmp, e))?;
        f.sync_all().map_err(|e| Error::io(&tmp, e))?;
        std::fs::rename(&tmp, path).map_err(|e| Error::io(path, e))?;
        // The rename itself made durable: fsync the folder (where the platform allows it).
        if let Some(dir) = path.parent() {
            let dir = if dir.as_os_str().is_empty() {
                Path::new(".")
            } else {
                dir
            };
            if let Ok(d) = std::fs::File::open(dir) {
                let _ = d.sync_all();
            }
        }
        Ok(())
    }
}

/// Removes the checkpoint of a finished run.
pub fn remove(path: &Path) -> Result<()> {
    match std::fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(Error::io(path, e)),
    }
}
