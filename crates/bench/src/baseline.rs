//! `--baseline <commit>`: the kernels section as an earlier commit measures it, on this machine,
//! in the same bench run as ours.
//!
//! Issue 16 asks each sparse product to run at least twice its rate "before this issue on the
//! same machine kind", and quotes 22–35 GFLOP/s without saying which product had which rate.
//! Rates drift by tens of percent between hours on the bench machines, so the only comparison
//! worth a verdict is the earlier code timed beside ours: the commit's sources are extracted
//! once (`git archive`) into a cache folder outside the repository (`$DST_BASELINE_DIR`,
//! default `~/.cache/dst-sparse-data/baseline`), built there with their own lock file and
//! target directory, and their own `cargo xtask bench --only kernels` runs in [`ROUNDS`]
//! rounds, each right before our kernels section; every rate on both sides is the median of
//! its rounds (one run of each is not enough: two runs of the same earlier code, minutes
//! apart, gave 38.1 and 64.5 GFLOP/s for one product on the bench machine).

use crate::kernels::{KernelRow, BACKWARD};
use crate::measure::median;
use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// What the earlier commit's `kernels.csv` holds that the comparison needs (its other columns,
/// whatever that commit wrote, are ignored).
#[derive(Debug, Clone, Deserialize)]
pub struct EarlierKernel {
    /// `forward`, `input_grad` or `weight_grad`.
    pub kernel: String,
    /// Layer inputs.
    pub n_in: usize,
    /// Layer outputs.
    pub n_out: usize,
    /// Layer density.
    pub density: f64,
    /// Batch size.
    pub batch: usize,
    /// `2 batch nnz / seconds / 1e9`, as the earlier bench counted it (the same count as ours).
    pub gflops: f64,
}

/// One row of `kernels_baseline.csv`: a product at one shape, the earlier commit against ours.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BaselineRow {
    /// The earlier commit (full hash).
    pub commit: String,
    /// `forward`, `input_grad`, `weight_grad` or `backward` (against the earlier commit's
    /// `input_grad` then `weight_grad`: the rate of the sum of their times).
    pub kernel: String,
    /// Layer inputs.
    pub n_in: usize,
    /// Layer outputs.
    pub n_out: usize,
    /// Layer density.
    pub density: f64,
    /// Batch size.
    pub batch: usize,
    /// The earlier commit's rate, the median of its rounds (GFLOP/s).
    pub baseline_gflops: f64,
    /// Its rounds' rates, in the order they ran, `;`-separated.
    pub baseline_runs: String,
    /// Ours, the median of the rounds of our kernels section (GFLOP/s).
    pub ours_gflops: f64,
    /// Our rounds' rates, `;`-separated.
    pub ours_runs: String,
    /// `ours_gflops / baseline_gflops`.
    pub ours_speedup: f64,
}

/// Rounds of the earlier commit's kernels section then ours.
pub const ROUNDS: usize = 3;

/// The cache folder holding each commit's sources, their target directory and their outputs.
fn cache_dir() -> PathBuf {
    crate::cache_folder("DST_BASELINE_DIR", "baseline")
}

/// The full hash of `rev` in the repository the bench runs in; an error names `rev`.
pub fn resolve(rev: &str) -> Result<String> {
    let out = Command::new("git")
        .args(["rev-parse", "--verify", "--quiet"])
        .arg(format!("{rev}^{{commit}}"))
        .output()
        .context("--baseline: running git rev-parse (is git installed?)")?;
    if !out.status.success() {
        bail!(
            "--baseline {rev}: not a commit of this repository (`git rev-parse {rev}` found \
             nothing; a shallow clone may lack it)"
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// An earlier commit's sources, extracted once into the cache and its bench runnable there.
pub struct Baseline {
    commit: String,
    sources: PathBuf,
    target: PathBuf,
}

impl Baseline {
    /// Extracts `commit`'s sources into the cache unless an earlier run did (`commit` as
    /// [`resolve`] gives it). An interrupted extraction is redone, never used.
    pub fn prepare(commit: &str) -> Result<Self> {
        let cache = cache_dir();
        let sources = cache.join(commit);
        if !sources.exists() {
            let partial = cache.join(format!("{commit}.partial"));
            if partial.exists() {
                std::fs::remove_dir_all(&partial)?;
            }
            std::fs::create_dir_all(&partial)
                .with_context(|| format!("creating {}", partial.display()))?;
            eprintln!("  baseline: extracting {commit} into {}", sources.display());
            let mut archive = Command::new("git")
                .args(["archive", "--format=tar", commit])
                .stdout(Stdio::piped())
                .spawn()
                .context("--baseline: running git archive")?;
            let stdout = archive.stdout.take().expect("piped");
            let untar = Command::new("tar")
                .arg("-x")
                .arg("-C")
                .arg(&partial)
                .stdin(stdout)
                .status()
                .context("--baseline: running tar")?;
            if !archive.wait()?.success() || !untar.success() {
                bail!("--baseline: extracting {commit} with git archive | tar failed");
            }
            std::fs::rename(&partial, &sources)?;
        }
        Ok(Self {
            commit: commit.to_string(),
            target: cache.join("target"),
            sources,
        })
    }

    /// [`ROUNDS`] rounds of the commit's kernels section then ours (`ours()`): our rows as
    /// `kernels.csv` keeps them ([`median_rows`]) and the comparison ([`compare`]).
    pub fn rounds(
        &self,
        quick: bool,
        mut ours: impl FnMut() -> Vec<KernelRow>,
    ) -> Result<(Vec<KernelRow>, Vec<BaselineRow>)> {
        let (mut earlier, mut now) = (Vec::new(), Vec::new());
        for round in 0..ROUNDS {
            earlier.push(self.run_kernels(quick, round)?);
            eprintln!("  ours, round {} ...", round + 1);
            now.push(ours());
        }
        Ok((median_rows(&now), compare(&self.commit, &earlier, &now)))
    }

    /// Runs the commit's own `cargo xtask bench --only kernels` (built first when needed; the
    /// build's progress is shown) into run folder `run`, and reads what it measured.
    fn run_kernels(&self, quick: bool, run: usize) -> Result<Vec<EarlierKernel>> {
        let out = self.sources.join(format!("bench-run-{run}"));
        if out.exists() {
            std::fs::remove_dir_all(&out)?;
        }
        eprintln!(
            "  baseline: {}'s kernels section, run {} ...",
            short(&self.commit),
            run + 1
        );
        let mut cmd = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
        cmd.current_dir(&self.sources)
            .env("CARGO_TARGET_DIR", &self.target)
            .args(["run", "--release", "--package", "xtask", "--"])
            .args(["bench", "--only", "kernels", "--out"])
            .arg(&out);
        if quick {
            cmd.arg("--quick");
        }
        let status = cmd
            .status()
            .context("--baseline: running cargo for the earlier commit")?;
        if !status.success() {
            bail!(
                "--baseline: {}'s `cargo xtask bench --only kernels` failed ({status}) in {}",
                short(&self.commit),
                self.sources.display()
            );
        }
        read_earlier(&out.join("kernels.csv"))
    }
}

/// The earlier commit's `kernels.csv`.
fn read_earlier(path: &Path) -> Result<Vec<EarlierKernel>> {
    let rows: Vec<EarlierKernel> = experiments::results::read_rows(path)?;
    if rows.is_empty() {
        bail!("--baseline: {} holds no kernel rows", path.display());
    }
    Ok(rows)
}

/// A commit's first 12 hex digits, as the bench's tables show commits.
pub(crate) fn short(commit: &str) -> &str {
    &commit[..commit.len().min(12)]
}

/// Each row of our rounds (the same shapes in the same order) as the round with the median
/// time: what `kernels.csv` holds after rounds.
pub fn median_rows(rounds: &[Vec<KernelRow>]) -> Vec<KernelRow> {
    let Some(first) = rounds.first() else {
        return Vec::new();
    };
    (0..first.len())
        .map(|i| {
            let mut of_row: Vec<&KernelRow> = rounds.iter().map(|r| &r[i]).collect();
            of_row.sort_by(|a, b| a.seconds.total_cmp(&b.seconds));
            of_row[(of_row.len() - 1) / 2].clone()
        })
        .collect()
}

fn rates(values: &[f64]) -> String {
    values
        .iter()
        .map(|r| format!("{r:.2}"))
        .collect::<Vec<_>>()
        .join(";")
}

/// Our rounds joined with the earlier commit's: the shapes both measured in every round,
/// each side's rate the median of its rounds.
pub fn compare(
    commit: &str,
    earlier: &[Vec<EarlierKernel>],
    ours: &[Vec<KernelRow>],
) -> Vec<BaselineRow> {
    let Some(first) = ours.first() else {
        return Vec::new();
    };
    first
        .iter()
        .enumerate()
        .filter_map(|(i, o)| {
            let rate = |run: &[EarlierKernel], kernel: &str| {
                run.iter()
                    .find(|e| {
                        (e.kernel.as_str(), e.n_in, e.n_out, e.batch)
                            == (kernel, o.n_in, o.n_out, o.batch)
                            && (e.density - o.density).abs() < 1e-12
                    })
                    .map(|e| e.gflops)
            };
            let before: Vec<f64> = earlier
                .iter()
                .filter_map(|run| match o.kernel.as_str() {
                    // The two products the sweep makes, one after the other: the same
                    // multiply-adds in the sum of their times.
                    BACKWARD => {
                        let (input, weight) = (rate(run, "input_grad")?, rate(run, "weight_grad")?);
                        Some(2.0 / (1.0 / input + 1.0 / weight))
                    }
                    kernel => rate(run, kernel),
                })
                .collect();
            let now: Vec<f64> = ours.iter().map(|r| r[i].gflops).collect();
            let (before_median, now_median) = (median(&before), median(&now));
            (before.len() == earlier.len()).then(|| BaselineRow {
                commit: commit.to_string(),
                kernel: o.kernel.clone(),
                n_in: o.n_in,
                n_out: o.n_out,
                density: o.density,
                batch: o.batch,
                baseline_gflops: before_median,
                baseline_runs: rates(&before),
                ours_gflops: now_median,
                ours_runs: rates(&now),
                ours_speedup: now_median / before_median,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ours(kernel: &str, batch: usize, gflops: f64) -> KernelRow {
        KernelRow {
            kernel: kernel.into(),
            n_in: 4000,
            n_out: 4000,
            density: 0.01,
            batch,
            nnz: 160_000,
            seconds: 2.0 * (batch * 160_000) as f64 / gflops / 1e9,
            gflops,
            dense_gflops: 44.0,
            ratio_to_dense_rate: gflops / 44.0,
            speedup_vs_dense: 1.0,
            roofline_gflops: 60.0,
            share_of_roofline: gflops / 60.0,
        }
    }

    fn earlier(kernel: &str, batch: usize, gflops: f64) -> EarlierKernel {
        EarlierKernel {
            kernel: kernel.into(),
            n_in: 4000,
            n_out: 4000,
            density: 0.01,
            batch,
            gflops,
        }
    }

    #[test]
    fn each_side_is_the_median_of_its_rounds_at_the_same_shape() {
        let earlier = vec![
            vec![
                earlier("forward", 128, 30.0),
                earlier("input_grad", 128, 20.0),
            ],
            vec![
                earlier("forward", 128, 25.0),
                earlier("input_grad", 128, 28.0),
            ],
            vec![earlier("forward", 128, 50.0)],
        ];
        let round = |f: f64| {
            vec![
                ours("forward", 128, f),
                ours("input_grad", 128, 50.0),
                ours("weight_grad", 128, 50.0),
            ]
        };
        let ours = vec![round(60.0), round(90.0), round(10.0)];
        let rows = compare("abc", &earlier, &ours);
        assert_eq!(
            rows.len(),
            1,
            "one round lacks input_grad, none has weight_grad"
        );
        assert_eq!(rows[0].baseline_gflops, 30.0);
        assert_eq!(rows[0].baseline_runs, "30.00;25.00;50.00");
        assert_eq!(rows[0].ours_gflops, 60.0);
        assert_eq!(rows[0].ours_runs, "60.00;90.00;10.00");
        assert_eq!(rows[0].ours_speedup, 2.0);
        let kept = median_rows(&ours);
        assert_eq!(kept.len(), 3);
        assert_eq!(kept[0].gflops, 60.0, "the round of median time");
    }

    /// The sweep does both products' work: the earlier side is their two times added.
    #[test]
    fn the_backward_sweep_is_compared_with_the_earlier_two_products_in_turn() {
        let run = vec![
            earlier("input_grad", 128, 20.0),
            earlier("weight_grad", 128, 30.0),
        ];
        let ours = vec![vec![ours(BACKWARD, 128, 48.0)]];
        let rows = compare("abc", &[run.clone(), run], &ours);
        assert_eq!(rows.len(), 1);
        // 2 units of work in 1/20 + 1/30 = 1/12 units of time: 24 GFLOP/s.
        assert!((rows[0].baseline_gflops - 24.0).abs() < 1e-9);
        assert!((rows[0].ours_speedup - 2.0).abs() < 1e-9);
        let without_sddmm = vec![vec![earlier("input_grad", 128, 20.0)]];
        assert!(compare("abc", &without_sddmm, &ours).is_empty());
    }

    #[test]
    fn an_earlier_kernels_file_is_read_whatever_else_it_holds() {
        let dir = std::env::temp_dir().join(format!("baseline-read-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("kernels.csv");
        std::fs::write(
            &path,
            "kernel,n_in,n_out,density,batch,nnz,seconds,gflops,dense_gflops\n\
             forward,4000,4000,0.01,128,160000,0.001,40.9,62.1\n",
        )
        .unwrap();
        let rows = read_earlier(&path).unwrap();
        assert_eq!(rows.len(), 1);
        assert_eq!((rows[0].batch, rows[0].gflops), (128, 40.9));
        std::fs::write(&path, "kernel,n_in,n_out,density,batch,gflops\n").unwrap();
        let err = read_earlier(&path).unwrap_err().to_string();
        assert!(err.contains("no kernel rows"), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn an_unknown_commit_is_named_in_the_error() {
        let err = resolve("no-such-commit-anywhere").unwrap_err().to_string();
        assert!(err.contains("--baseline no-such-commit-anywhere"), "{err}");
    }
}
