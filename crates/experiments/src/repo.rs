//! Where the repository is, found when the program runs.
//!
//! Its bundled datasets, study configs, guard reference and git history are read from the
//! repository the program runs in: the nearest folder at or above the current directory that
//! holds this workspace (its `crates/experiments` package), else the folder this crate was
//! built from (a binary run from elsewhere). Not the build-time path alone: clones that share
//! a cargo target folder (CI's clone of main and a working copy, say) share their compiled
//! crates too, and cargo reused a crate built in one clone for the other, build-time path
//! included, so a bench run in the working copy recorded the other clone's commit (and
//! `reproduce` would have read its study configs).

use std::path::{Path, PathBuf};

/// The repository's root folder (see the module's documentation).
pub fn root() -> PathBuf {
    std::env::current_dir()
        .ok()
        .and_then(|dir| find_root(&dir))
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../.."))
}

/// The nearest folder at or above `start` that holds this workspace.
pub fn find_root(start: &Path) -> Option<PathBuf> {
    start
        .ancestors()
        .find(|dir| dir.join("crates/experiments/src/repo.rs").is_file())
        .map(Path::to_path_buf)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_root_is_found_from_any_folder_inside_it_and_only_there() {
        let repo = tempfile::tempdir().unwrap();
        let inner = repo.path().join("crates/experiments/src");
        std::fs::create_dir_all(&inner).unwrap();
        assert_eq!(find_root(&inner), None, "no marker yet");
        std::fs::write(inner.join("repo.rs"), "").unwrap();
        let deep = repo.path().join("results/some/study");
        std::fs::create_dir_all(&deep).unwrap();
        assert_eq!(find_root(&deep).as_deref(), Some(repo.path()));
        assert_eq!(find_root(repo.path()).as_deref(), Some(repo.path()));
        let outside = tempfile::tempdir().unwrap();
        assert_eq!(find_root(outside.path()), None);
    }

    /// Tests run in their package's folder, inside the repository: found from there.
    #[test]
    fn the_root_of_a_test_run_is_the_repository_around_its_folder() {
        let root = root();
        assert!(
            root.join("experiments/studies").is_dir(),
            "{}",
            root.display()
        );
        let here = std::env::current_dir().unwrap();
        assert!(
            here.starts_with(&root),
            "{} in {}",
            here.display(),
            root.display()
        );
    }
}
