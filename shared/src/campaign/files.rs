//! Reading a campaign file and its catalog folders from disk, for every command that takes a
//! campaign path (`wattsweep plan`, `wattsweep submit`, `wattsweep-agent execute`).
//!
//! This is the one place in the campaign model that touches the file system; the parser itself
//! ([`parse_campaign`]) takes text, so it stays testable without files.

use std::path::{Path, PathBuf};

use super::{Campaign, CampaignErrors, Source, catalog_dirs, parse_campaign};

/// Why a campaign could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// A file or folder could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file or folder.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The campaign or a catalog file has errors; each carries `file:line:col`.
    #[error("{0}")]
    Campaign(#[from] CampaignErrors),
}

/// Read `file`, the catalog folders it names in `[campaign] catalog` (relative to the file) and
/// `extra_catalogs`, and parse them. Catalog folders contribute every `*.toml`, in name order.
pub fn load_campaign(file: &Path, extra_catalogs: &[PathBuf]) -> Result<Campaign, LoadError> {
    let source = read_source(file)?;
    let mut dirs = catalog_dirs(&source)?;
    dirs.extend(extra_catalogs.iter().cloned());
    let mut catalog = Vec::new();
    for dir in &dirs {
        for path in catalog_files(dir)? {
            catalog.push(read_source(&path)?);
        }
    }
    Ok(parse_campaign(&source, &catalog)?)
}

fn read_source(path: &Path) -> Result<Source, LoadError> {
    let text = std::fs::read_to_string(path).map_err(|source| LoadError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    Ok(Source::new(path.display().to_string(), text))
}

/// Every `*.toml` of a catalog folder, in name order.
fn catalog_files(dir: &Path) -> Result<Vec<PathBuf>, LoadError> {
    let entries = std::fs::read_dir(dir).map_err(|source| LoadError::Read {
        path: dir.to_path_buf(),
        source,
    })?;
    let mut paths: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    paths.sort();
    Ok(paths)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_file_names_the_path() {
        let err = load_campaign(Path::new("/nonexistent/c.toml"), &[]).unwrap_err();
        assert!(matches!(err, LoadError::Read { .. }));
        assert!(err.to_string().contains("/nonexistent/c.toml"), "{err}");
    }

    #[test]
    fn the_example_campaigns_load_with_their_catalog() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy/campaigns");
        let c = load_campaign(&root.join("h100-sharing-envelope.toml"), &[]).unwrap();
        assert!(c.workloads.contains_key("burn"));
        assert!(c.workloads.contains_key("duty-burn"));
    }
}
