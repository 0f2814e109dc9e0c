//! Checkpoint and resume inside a run (`cargo xtask run CONFIG --checkpoint-every K`).
//!
//! Every `K` epochs a run writes `DIR/checkpoints/<hash of run_id>.ckpt`: the model (topology,
//! weights, biases, optimizer momentum, the DST method's state), the positions of its random
//! streams, the training loop's state (epoch, step, example order, epoch records, topology
//! telemetry) and the per-example histories. A run that finds its checkpoint (after a SIGKILL,
//! or a requeued Slurm task) continues from it and ends with the numbers of an uninterrupted
//! run, bit for bit (timings aside); reading the streams' positions draws nothing, so
//! checkpointing never changes a run's numbers either. The runner deletes the checkpoint once
//! the run's row is recorded.
//!
//! A file is written atomically (a temporary file in the same folder, synced, renamed) and
//! holds a magic tag, the CBOR body ([`sparse_core::state`]: floats exact) and an FNV-1a
//! checksum of the body. A torn, corrupt or foreign file (another run or config) is ignored
//! with a warning: the run then starts from its first epoch, which costs time but never
//! changes results.

use crate::hash::fnv1a;
use anyhow::{bail, Context, Result};
use data::dynamics::ExampleTracker;
use models::{LoopState, RngPositions};
use serde::{Deserialize, Serialize};
use std::io::Write;
use std::path::{Path, PathBuf};

/// The folder of a results folder that holds its runs' checkpoints.
pub const DIR: &str = "checkpoints";

/// First bytes of a checkpoint file (format version 2: the studies' recorders saved by file
/// name; a version 1 file is not read, and its run starts over).
const MAGIC: &[u8; 8] = b"DSTCKPT2";

/// Where and how often runs checkpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckpointPolicy {
    /// The folder of the checkpoint files (`<results folder>/checkpoints`).
    pub dir: PathBuf,
    /// Checkpoint after every this many epochs (never after the last one).
    pub every: usize,
}

impl CheckpointPolicy {
    /// Checkpoints every `every` epochs into `results_dir/checkpoints`.
    pub fn new(results_dir: &Path, every: usize) -> Self {
        CheckpointPolicy {
            dir: results_dir.join(DIR),
            every,
        }
    }

    /// The checkpoint file of run `run_id` (a hash: run keys hold characters file systems
    /// dislike).
    pub fn path(&self, run_id: &str) -> PathBuf {
        self.dir
            .join(format!("{:016x}.ckpt", fnv1a(run_id.as_bytes())))
    }

    /// Whether a run of `epochs` epochs checkpoints after `epochs_done`.
    pub fn due(&self, epochs_done: usize, epochs: usize) -> bool {
        self.every > 0 && epochs_done.is_multiple_of(self.every) && epochs_done < epochs
    }
}

/// A checkpoint as read back.
#[derive(Debug, Deserialize)]
pub struct RunCheckpoint {
    /// The run it belongs to.
    pub run_id: String,
    /// The hash of the run's fixed settings.
    pub config_hash: String,
    /// The training loop's state.
    pub loop_state: LoopState,
    /// Positions of the run's random streams.
    pub rngs: RngPositions,
    /// `Classifier::save_state` of the model.
    #[serde(with = "sparse_core::state::bytes")]
    pub model: Vec<u8>,
    /// Per-example histories, when the run tracks them.
    pub examples: Option<ExampleTracker>,
    /// The run's other records (per-step forgetting, end-of-epoch evaluation), encoded by
    /// the run (opaque to this module).
    #[serde(default, with = "sparse_core::state::bytes")]
    pub records: Vec<u8>,
}

/// A checkpoint to write, borrowing the run's state (serialised like [`RunCheckpoint`]).
#[derive(Debug, Serialize)]
pub struct CheckpointRef<'a> {
    /// The run it belongs to.
    pub run_id: &'a str,
    /// The hash of the run's fixed settings.
    pub config_hash: &'a str,
    /// The training loop's state.
    pub loop_state: &'a LoopState,
    /// Positions of the run's random streams.
    pub rngs: RngPositions,
    /// `Classifier::save_state` of the model.
    #[serde(with = "sparse_core::state::bytes")]
    pub model: &'a [u8],
    /// Per-example histories, when the run tracks them.
    pub examples: Option<&'a ExampleTracker>,
    /// The run's other records, encoded.
    #[serde(with = "sparse_core::state::bytes")]
    pub records: &'a [u8],
}

/// Writes `ckpt` to `path` atomically (temporary file, fsync, rename, fsync of the folder).
pub fn write(path: &Path, ckpt: &CheckpointRef) -> Result<()> {
    let dir = path.parent().context("a checkpoint path has a folder")?;
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let body = sparse_core::state::encode(ckpt);
    let tmp = path.with_extension("ckpt.tmp");
    {
        let mut f =
            std::fs::File::create(&tmp).with_context(|| format!("writing {}", tmp.display()))?;
        f.write_all(MAGIC)?;
        f.write_all(&body)?;
        f.write_all(&fnv1a(&body).to_le_bytes())?;
        f.sync_all()?;
    }
    std::fs::rename(&tmp, path).with_context(|| format!("replacing {}", path.display()))?;
    // The rename itself must survive a crash of the machine, not only of the process.
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

/// Reads the checkpoint at `path`: `None` when there is none, an error naming the problem
/// when the file is torn or corrupt.
pub fn read(path: &Path) -> Result<Option<RunCheckpoint>> {
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
    };
    if bytes.len() < MAGIC.len() + 8 || &bytes[..MAGIC.len()] != MAGIC {
        bail!("not a checkpoint file (too short, or no {MAGIC:?} tag)");
    }
    let (body, sum) = bytes[MAGIC.len()..].split_at(bytes.len() - MAGIC.len() - 8);
    if fnv1a(body).to_le_bytes() != sum {
        bail!("checksum mismatch (torn or corrupt file)");
    }
    Ok(Some(sparse_core::state::decode(body, "checkpoint")?))
}

/// The checkpoint `policy` holds for the run keyed `run_id` with settings `config_hash`, if
/// any and if it is this run's: a foreign, torn or corrupt file is reported on stderr and
/// ignored (the run starts over).
pub fn find(policy: &CheckpointPolicy, run_id: &str, config_hash: &str) -> Option<RunCheckpoint> {
    let path = policy.path(run_id);
    match read(&path) {
        Ok(None) => None,
        Ok(Some(c)) if c.run_id != run_id || c.config_hash != config_hash => {
            eprintln!(
                "warning: {} belongs to run {} (settings {}), not to run {} (settings {}); \
                 ignored, the run starts from epoch 1",
                path.display(),
                c.run_id,
                c.config_hash,
                run_id,
                config_hash
            );
            None
        }
        Ok(Some(c)) => Some(c),
        Err(e) => {
            eprintln!(
                "warning: ignoring the checkpoint {} of run {}: {e:#}; the run starts from \
                 epoch 1",
                path.display(),
                run_id
            );
            None
        }
    }
}

/// Deletes run `run_id`'s checkpoint, if any (after its row is recorded).
pub fn remove(policy_dir: &Path, run_id: &str) -> Result<()> {
    let path = CheckpointPolicy {
        dir: policy_dir.to_path_buf(),
        every: 0,
    }
    .path(run_id);
    match std::fs::remove_file(&path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            Err(e).with_context(|| format!("deleting {}", path.display()))
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use models::RunRngs;

    fn state() -> LoopState {
        LoopState {
            epochs_done: 2,
            step: 8,
            order: vec![2, 0, 1, 3],
            records: Vec::new(),
            topology: None,
            forgetting: models::OnlineForgetting::new(4),
            sampler: vec![7],
            growth: Vec::new(),
        }
    }

    fn write_one(path: &Path, run_id: &str, examples: Option<&ExampleTracker>) {
        let s = state();
        write(
            path,
            &CheckpointRef {
                run_id,
                config_hash: "abc",
                loop_state: &s,
                rngs: RunRngs::from_seed(3).positions(),
                model: &[1, 2, 3, 200],
                examples,
                records: &[9, 8],
            },
        )
        .unwrap();
    }

    #[test]
    fn round_trip_and_no_temporary_left() {
        let dir = tempfile::tempdir().unwrap();
        let policy = CheckpointPolicy::new(dir.path(), 2);
        let path = policy.path("run|a");
        let mut tracker = ExampleTracker::new(&[5, 9], &[1]);
        tracker.record(1, &[9, 5], &[0, 1], &[0.25, 0.75, 0.5, 0.5], 2);
        write_one(&path, "run|a", Some(&tracker));
        let c = read(&path).unwrap().unwrap();
        assert_eq!(
            (c.run_id.as_str(), c.config_hash.as_str()),
            ("run|a", "abc")
        );
        assert_eq!(c.loop_state, state());
        assert_eq!(c.rngs, RunRngs::from_seed(3).positions());
        assert_eq!(c.model, vec![1, 2, 3, 200]);
        assert_eq!(c.examples, Some(tracker));
        let names: Vec<_> = std::fs::read_dir(&policy.dir).unwrap().collect();
        assert_eq!(names.len(), 1, "only the checkpoint, no temporary file");
        assert!(read(&policy.path("other")).unwrap().is_none());
        remove(&policy.dir, "run|a").unwrap();
        assert!(!path.exists());
        remove(&policy.dir, "run|a").unwrap();
    }

    #[test]
    fn torn_or_corrupt_files_are_errors() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.ckpt");
        write_one(&path, "r", None);
        let good = std::fs::read(&path).unwrap();
        std::fs::write(&path, &good[..good.len() - 5]).unwrap();
        assert!(read(&path).unwrap_err().to_string().contains("checksum"));
        let mut flipped = good.clone();
        flipped[20] ^= 1;
        std::fs::write(&path, &flipped).unwrap();
        assert!(read(&path).is_err());
        std::fs::write(&path, b"DSTC").unwrap();
        assert!(read(&path)
            .unwrap_err()
            .to_string()
            .contains("not a checkpoint"));
    }

    #[test]
    fn due_every_k_epochs_but_never_after_the_last() {
        let p = CheckpointPolicy::new(Path::new("out"), 3);
        let due: Vec<usize> = (1..=9).filter(|&e| p.due(e, 9)).collect();
        assert_eq!(due, vec![3, 6]);
        assert!(!CheckpointPolicy::new(Path::new("out"), 0).due(3, 9));
        assert_eq!(
            p.path("a"),
            Path::new("out/checkpoints").join(format!("{:016x}.ckpt", fnv1a(b"a")))
        );
    }
}
