//! Where encoder weights come from: the Hugging Face hub (through hf-hub and its cache), a
//! local directory in HF layout, or the packaged offline bundle.
use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use crate::{Error, Result};

/// HF layout: model configuration.
pub const CONFIG_FILE: &str = "config.json";
/// HF layout and bundle: the fast tokenizer.
pub const TOKENIZER_FILE: &str = "tokenizer.json";
/// HF layout: the weights.
pub const SAFETENSORS_FILE: &str = "model.safetensors";
/// Bundle: the E5S1 weights (see [`super::e5s1`]).
pub const BUNDLE_WEIGHTS_FILE: &str = "e5-small-q4.bin";
/// Bundle: provenance and checksums written by `scripts/install-model.sh` (optional).
pub const BUNDLE_META_FILE: &str = "bundle.json";
/// Directory name of the default bundle under `$RAPPORT_HOME/models`.
pub const DEFAULT_BUNDLE_NAME: &str = "multilingual-e5-small-q4";

/// Where encoder weights come from.
#[derive(Clone, Debug, PartialEq)]
pub enum ModelSource {
    /// Hugging Face hub repo id + revision via hf-hub (honours HF_HOME, HF_HUB_OFFLINE, HF_ENDPOINT).
    Hub { repo: String, revision: String },
    /// Local directory in HF layout: config.json, tokenizer.json, model.safetensors.
    Dir(PathBuf),
    /// The packaged offline bundle: directory with e5-small-q4.bin + tokenizer.json.
    Bundle(PathBuf),
}

impl ModelSource {
    /// The default source: the packaged bundle at [`default_bundle_dir`].
    pub fn default_bundle() -> ModelSource {
        ModelSource::Bundle(default_bundle_dir())
    }
}

fn bad_source(s: &str, reason: impl fmt::Display) -> Error {
    Error::invalid("model source", format!("'{s}': {reason}"))
}

fn parse_path(s: &str, p: &str) -> Result<PathBuf> {
    if p.is_empty() {
        return Err(bad_source(s, "the path is empty"));
    }
    Ok(expand_tilde(p))
}

/// `~` and `~/...` become `$HOME/...`, as a shell would do for an unquoted path.
fn expand_tilde(p: &str) -> PathBuf {
    if p == "~" || p.starts_with("~/") {
        if let Some(home) = env_nonempty("HOME") {
            return PathBuf::from(home).join(p.trim_start_matches('~').trim_start_matches('/'));
        }
    }
    PathBuf::from(p)
}

impl FromStr for ModelSource {
    type Err = Error;

    /// `hub:REPO[@REV]` (revision defaults to `main`), `dir:PATH`, `bundle:PATH`, or a bare
    /// existing directory: HF layout if it holds `config.json`, a bundle if it holds
    /// `e5-small-q4.bin`.
    fn from_str(s: &str) -> Result<Self> {
        let t = s.trim();
        if let Some(rest) = t.strip_prefix("hub:") {
            let (repo, revision) = match rest.split_once('@') {
                Some((repo, rev)) => (repo.trim(), rev.trim()),
                None => (rest.trim(), "main"),
            };
            if repo.is_empty() {
                return Err(bad_source(
                    s,
                    "the repo id is empty (hub:ORG/NAME[@REVISION])",
                ));
            }
            if revision.is_empty() {
                return Err(bad_source(s, "the revision after '@' is empty"));
            }
            if repo.chars().any(char::is_whitespace) || repo.starts_with('/') || repo.ends_with('/')
            {
                return Err(bad_source(
                    s,
                    "not a valid hub repo id (hub:ORG/NAME[@REVISION])",
                ));
            }
            return Ok(ModelSource::Hub {
                repo: repo.to_string(),
                revision: revision.to_string(),
            });
        }
        if let Some(p) = t.strip_prefix("dir:") {
            return Ok(ModelSource::Dir(parse_path(s, p)?));
        }
        if let Some(p) = t.strip_prefix("bundle:") {
            return Ok(ModelSource::Bundle(parse_path(s, p)?));
        }
        if t.is_empty() {
            return Err(bad_source(
                s,
                "empty; expected hub:REPO[@REV], dir:PATH, bundle:PATH or a model directory",
            ));
        }
        let path = expand_tilde(t);
        if !path.is_dir() {
            return Err(bad_source(
                s,
                "not an existing directory; expected hub:REPO[@REV], dir:PATH, bundle:PATH or a model directory",
            ));
        }
        if path.join(CONFIG_FILE).is_file() {
            Ok(ModelSource::Dir(path))
        } else if path.join(BUNDLE_WEIGHTS_FILE).is_file() {
            Ok(ModelSource::Bundle(path))
        } else {
            Err(bad_source(
                s,
                format!(
                    "the directory has neither {CONFIG_FILE} (HF layout) nor {BUNDLE_WEIGHTS_FILE} (bundle)"
                ),
            ))
        }
    }
}

impl fmt::Display for ModelSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ModelSource::Hub { repo, revision } => write!(f, "hub:{repo}@{revision}"),
            ModelSource::Dir(p) => write!(f, "dir:{}", p.display()),
            ModelSource::Bundle(p) => write!(f, "bundle:{}", p.display()),
        }
    }
}

fn env_nonempty(key: &str) -> Option<String> {
    std::env::var(key).ok().filter(|v| !v.is_empty())
}

/// `$RAPPORT_HOME`, else `$XDG_CACHE_HOME/rapport`, else `~/.cache/rapport` (empty variables
/// count as unset, as in the install script's `${VAR:-default}`).
pub fn rapport_home() -> PathBuf {
    if let Some(h) = env_nonempty("RAPPORT_HOME") {
        return PathBuf::from(h);
    }
    if let Some(x) = env_nonempty("XDG_CACHE_HOME") {
        return PathBuf::from(x).join("rapport");
    }
    home_dir().join(".cache").join("rapport")
}

fn home_dir() -> PathBuf {
    if let Some(h) = env_nonempty("HOME") {
        return PathBuf::from(h);
    }
    #[allow(deprecated)]
    std::env::home_dir().unwrap_or_else(|| PathBuf::from("."))
}

/// $RAPPORT_HOME/models/multilingual-e5-small-q4 (RAPPORT_HOME defaults to $XDG_CACHE_HOME/rapport, then ~/.cache/rapport)
pub fn default_bundle_dir() -> PathBuf {
    rapport_home().join("models").join(DEFAULT_BUNDLE_NAME)
}

/// The three files of an HF-layout model, wherever they live (a directory or the hub cache).
#[derive(Clone, Debug, PartialEq)]
pub struct HfFiles {
    pub config: PathBuf,
    pub tokenizer: PathBuf,
    pub weights: PathBuf,
}

impl HfFiles {
    /// The files of a local directory; every one must exist.
    pub fn in_dir(dir: &Path) -> Result<HfFiles> {
        if !dir.is_dir() {
            return Err(Error::model(format!(
                "model directory {} does not exist or is not a directory",
                dir.display()
            )));
        }
        let files = HfFiles {
            config: dir.join(CONFIG_FILE),
            tokenizer: dir.join(TOKENIZER_FILE),
            weights: dir.join(SAFETENSORS_FILE),
        };
        let missing: Vec<&str> = [
            (&files.config, CONFIG_FILE),
            (&files.tokenizer, TOKENIZER_FILE),
            (&files.weights, SAFETENSORS_FILE),
        ]
        .iter()
        .filter(|(p, _)| !p.is_file())
        .map(|(_, n)| *n)
        .collect();
        if !missing.is_empty() {
            return Err(Error::model(format!(
                "model directory {} lacks {} (HF layout needs {CONFIG_FILE}, {TOKENIZER_FILE}, {SAFETENSORS_FILE})",
                dir.display(),
                missing.join(", ")
            )));
        }
        Ok(files)
    }
}

/// How to reach the hub and where its cache is. [`HubOptions::from_env`] reads the usual
/// variables once; tests and embedders can build one explicitly instead of touching the
/// process environment.
#[derive(Clone, Debug, PartialEq)]
pub struct HubOptions {
    /// The hub cache (the directory holding `models--ORG--NAME`).
    pub cache_dir: PathBuf,
    /// Resolve from the cache only; never touch the network.
    pub offline: bool,
    /// Hub endpoint; `None` means hf-hub's default.
    pub endpoint: Option<String>,
    /// Access token for gated or private repos.
    pub token: Option<String>,
}

impl HubOptions {
    /// `HF_HUB_CACHE`, else `$HF_HOME/hub` (hf-hub's `Cache::from_env`), else
    /// `~/.cache/huggingface/hub`; `HF_HUB_OFFLINE` (1/true/yes/on); `HF_ENDPOINT`;
    /// `HF_TOKEN`, else the token file in the cache's parent directory.
    pub fn from_env() -> HubOptions {
        let cache_dir = match env_nonempty("HF_HUB_CACHE") {
            Some(c) => PathBuf::from(c),
            None => match env_nonempty("HF_HOME") {
                Some(_) => hf_hub::Cache::from_env().path().clone(),
                None => home_dir().join(".cache").join("huggingface").join("hub"),
            },
        };
        let offline = env_nonempty("HF_HUB_OFFLINE").is_some_and(|v| {
            matches!(
                v.trim().to_ascii_lowercase().as_str(),
                "1" | "true" | "yes" | "on"
            )
        });
        let token =
            env_nonempty("HF_TOKEN").or_else(|| hf_hub::Cache::new(cache_dir.clone()).token());
        HubOptions {
            cache_dir,
            offline,
            endpoint: env_nonempty("HF_ENDPOINT"),
            token,
        }
    }
}

/// A full commit hash, which python's huggingface_hub resolves to `snapshots/<hash>` directly.
fn is_commit_hash(rev: &str) -> bool {
    rev.len() == 40 && rev.bytes().all(|b| b.is_ascii_hexdigit())
}

/// Find `config.json`, `tokenizer.json` and `model.safetensors` of `repo@revision`: from the
/// local cache only when `opts.offline`, otherwise through hf-hub's sync API (which uses the
/// cache first and downloads what is missing).
pub fn resolve_hub(repo: &str, revision: &str, opts: &HubOptions) -> Result<HfFiles> {
    let names = [CONFIG_FILE, TOKENIZER_FILE, SAFETENSORS_FILE];
    let hub_repo = hf_hub::Repo::with_revision(
        repo.to_string(),
        hf_hub::RepoType::Model,
        revision.to_string(),
    );
    let mut paths = Vec::with_capacity(3);
    if opts.offline {
        let cache = hf_hub::Cache::new(opts.cache_dir.clone());
        let cache_repo = cache.repo(hub_repo.clone());
        for name in names {
            let found = cache_repo.get(name).or_else(|| {
                // hf-hub resolves a revision through refs/<revision>; a commit hash has no ref
                // file but its snapshot directory is addressable directly.
                let p = opts
                    .cache_dir
                    .join(hub_repo.folder_name())
                    .join("snapshots")
                    .join(revision)
                    .join(name);
                (is_commit_hash(revision) && p.is_file()).then_some(p)
            });
            match found {
                Some(p) => paths.push(p),
                None => {
                    return Err(Error::model(format!(
                    "hub:{repo}@{revision}: {name} is not in the local Hugging Face cache {} and \
                         HF_HUB_OFFLINE forbids downloading it (expected {}/refs/{revision} and \
                         snapshots/<commit>/{name})",
                    opts.cache_dir.display(),
                    opts.cache_dir.join(hub_repo.folder_name()).display(),
                )))
                }
            }
        }
    } else {
        let mut builder =
            hf_hub::api::sync::ApiBuilder::from_cache(hf_hub::Cache::new(opts.cache_dir.clone()))
                .with_progress(false)
                .with_token(opts.token.clone());
        if let Some(ep) = &opts.endpoint {
            builder = builder.with_endpoint(ep.clone());
        }
        let api = builder
            .build()
            .map_err(|e| Error::model(format!("hub client: {e}")))?;
        let api_repo = api.repo(hub_repo);
        for name in names {
            let p = api_repo.get(name).map_err(|e| {
                Error::model(format!(
                    "hub:{repo}@{revision}: cannot get {name}: {e} (set HF_HUB_OFFLINE=1 to use \
                     the local cache {} only)",
                    opts.cache_dir.display()
                ))
            })?;
            paths.push(p);
        }
    }
    let mut it = paths.into_iter();
    match (it.next(), it.next(), it.next()) {
        (Some(config), Some(tokenizer), Some(weights)) => Ok(HfFiles {
            config,
            tokenizer,
            weights,
        }),
        _ => Err(Error::model("hub: internal error resolving files")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_and_display_round_trip() {
        for s in [
            "hub:intfloat/multilingual-e5-small@main",
            "hub:org/name@refs/pr/1",
            "dir:/tmp/x y",
            "bundle:/opt/models/b",
        ] {
            let src: ModelSource = s.parse().unwrap();
            assert_eq!(src.to_string(), s);
            assert_eq!(src.to_string().parse::<ModelSource>().unwrap(), src);
        }
        assert_eq!(
            "hub:a/b".parse::<ModelSource>().unwrap(),
            ModelSource::Hub {
                repo: "a/b".into(),
                revision: "main".into()
            }
        );
    }

    #[test]
    fn bad_sources() {
        for s in [
            "",
            "hub:",
            "hub:@x",
            "hub:a/b@",
            "dir:",
            "bundle:",
            "/definitely/not/here",
        ] {
            let e = s.parse::<ModelSource>().unwrap_err().to_string();
            assert!(e.contains("model source"), "{s}: {e}");
        }
    }

    #[test]
    fn commit_hash() {
        assert!(is_commit_hash("0123456789abcdef0123456789abcdef01234567"));
        assert!(!is_commit_hash("main"));
    }
}
