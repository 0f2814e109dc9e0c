//! `cargo xtask reproduce`: every study under `experiments/studies/` run (or resumed) into one
//! results folder, with paired statistics, figures and a generated `README.md` that says which
//! configs, seeds, machine, commit and wall time produced every number.

use crate::provenance;
use anyhow::{bail, Context, Result};
use experiments::config::ExperimentConfig;
use experiments::paired::{paired_vs_dense, write_paired, PairedRow};
use experiments::registry::DENSE;
use experiments::results::{converged, read_rows, EpochRow, RunRow};
use experiments::runner::{git_commit, run_config, RunOptions};
use experiments::summary::mean_ci95;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// Options of `reproduce`.
#[derive(Debug, Clone)]
pub struct ReproduceOptions {
    /// Results folder (default `results/`).
    pub out: PathBuf,
    /// Run the studies' `[quick]` grids.
    pub quick: bool,
    /// Only these studies (by name); all when empty.
    pub only: Vec<String>,
    /// Parallel runs.
    pub jobs: Option<usize>,
    /// Start every study over.
    pub fresh: bool,
    /// No progress bars.
    pub quiet: bool,
    /// Train nothing: fail when committed runs are missing or stale ([`check_study`]),
    /// otherwise redraw every table and figure from the committed files.
    pub check: bool,
}

/// A study's committed runs measured against its config: what `reproduce --check` refuses.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StudyCheck {
    /// Runs of the grid without a row in `runs.csv`.
    pub missing: Vec<String>,
    /// Runs of the grid whose row another numerics version computed (`None`: written before
    /// the version was recorded), so this code may compute other numbers.
    pub stale: Vec<(String, Option<u32>)>,
}

impl StudyCheck {
    /// Nothing missing, nothing stale.
    pub fn is_clean(&self) -> bool {
        self.missing.is_empty() && self.stale.is_empty()
    }
}

impl std::fmt::Display for StudyCheck {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        const SHOWN: usize = 5;
        let ids = |v: Vec<&str>| {
            let more = v.len().saturating_sub(SHOWN);
            let mut s = v[..v.len().min(SHOWN)].join(", ");
            if more > 0 {
                let _ = write!(s, " and {more} more");
            }
            s
        };
        let mut parts = Vec::new();
        if !self.missing.is_empty() {
            parts.push(format!(
                "{} missing: {}",
                self.missing.len(),
                ids(self.missing.iter().map(String::as_str).collect())
            ));
        }
        if !self.stale.is_empty() {
            let mut versions: BTreeMap<String, usize> = BTreeMap::new();
            for (_, v) in &self.stale {
                let name = v.map_or("none recorded".to_string(), |v| format!("version {v}"));
                *versions.entry(name).or_default() += 1;
            }
            parts.push(format!(
                "{} computed by another numerics version than {} ({}): {}",
                self.stale.len(),
                experiments::numerics::VERSION,
                versions
                    .iter()
                    .map(|(v, n)| format!("{n} by {v}"))
                    .collect::<Vec<_>>()
                    .join(", "),
                ids(self.stale.iter().map(|(id, _)| id.as_str()).collect())
            ));
        }
        write!(f, "{}", parts.join("; "))
    }
}

/// Compares the runs committed in `dir` with the grid of `cfg`, reading only (unlike a run,
/// which drops the stale rows it finds).
pub fn check_study(dir: &Path, cfg: &ExperimentConfig) -> Result<StudyCheck> {
    let rows: Vec<RunRow> = read_rows(&dir.join("runs.csv"))?;
    let by_id: std::collections::HashMap<&str, &RunRow> =
        rows.iter().map(|r| (r.run_id.as_str(), r)).collect();
    let mut check = StudyCheck::default();
    for spec in experiments::grid::expand(cfg) {
        match by_id.get(spec.run_id.as_str()) {
            None => check.missing.push(spec.run_id),
            Some(r) if r.numerics != Some(experiments::numerics::VERSION) => {
                check.stale.push((spec.run_id, r.numerics))
            }
            Some(_) => {}
        }
    }
    Ok(check)
}

/// The studies folder of the repository.
pub fn studies_dir() -> PathBuf {
    experiments::repo::root().join("experiments/studies")
}

/// Loads every study config in `dir`, sorted by file name.
pub fn discover(dir: &Path) -> Result<Vec<(PathBuf, ExperimentConfig)>> {
    crate::install();
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| format!("listing {}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    paths.sort();
    paths
        .into_iter()
        .map(|p| {
            let (cfg, _) = ExperimentConfig::load(&p)?;
            crate::check_figures(&p, &cfg)?;
            Ok((p, cfg))
        })
        .collect()
}

/// What one study produced.
struct StudyOutcome {
    path: PathBuf,
    cfg: ExperimentConfig,
    dir: PathBuf,
    rows: Vec<RunRow>,
    paired: Vec<PairedRow>,
    figures: Vec<(PathBuf, String)>,
}

/// Runs the studies and writes `out/README.md`.
pub fn reproduce(opts: &ReproduceOptions) -> Result<()> {
    crate::install();
    let started = Instant::now();
    let studies = discover(&studies_dir())?;
    let names: Vec<&str> = studies.iter().map(|(_, c)| c.name.as_str()).collect();
    // `--only part2-forgetting` selects `part2-forgetting` and `part2-forgetting-<dataset>`.
    let selects = |o: &str, name: &str| name == o || name.starts_with(&format!("{o}-"));
    for o in &opts.only {
        if !names.iter().any(|n| selects(o, n)) {
            bail!("--only {o}: no such study; studies: {}", names.join(", "));
        }
    }
    let selected = |cfg: &ExperimentConfig| {
        opts.only.is_empty() || opts.only.iter().any(|o| selects(o, &cfg.name))
    };
    if opts.check {
        if opts.fresh {
            bail!("--check trains nothing, so it cannot start over (--fresh)");
        }
        let mut problems = Vec::new();
        for (_, cfg) in &studies {
            let cfg = if opts.quick { cfg.quick() } else { cfg.clone() };
            if !selected(&cfg) {
                continue;
            }
            let dir = opts.out.join(&cfg.name);
            if !dir.join("runs.csv").exists() {
                problems.push(format!("{}: no runs.csv in {}", cfg.name, dir.display()));
                continue;
            }
            let check = check_study(&dir, &cfg)?;
            if !check.is_clean() {
                problems.push(format!("{}: {check}", cfg.name));
            }
        }
        if !problems.is_empty() {
            bail!(
                "reproduce --check: the committed runs do not match the studies (run `cargo \
                 xtask reproduce{}` to train them):\n  {}",
                if opts.quick { " --quick" } else { "" },
                problems.join("\n  ")
            );
        }
    }
    let mut outcomes = Vec::new();
    for (path, cfg) in studies {
        let cfg = if opts.quick { cfg.quick() } else { cfg };
        if opts.check && selected(&cfg) {
            let dir = opts.out.join(&cfg.name);
            let rows: Vec<RunRow> = read_rows(&dir.join("runs.csv"))?;
            let paired = paired_vs_dense(&rows);
            write_paired(&dir, &paired)?;
            let figures = crate::plots::redraw_committed(&dir)?.with_context(|| {
                format!(
                    "{}: no committed figure data (figures/index.toml); regenerate the study",
                    dir.display()
                )
            })?;
            outcomes.push(StudyOutcome {
                paired,
                path,
                cfg,
                dir,
                figures,
                rows,
            });
            continue;
        }
        if !selected(&cfg) {
            // Not run now; its results from earlier calls stay in the README.
            let dir = opts.out.join(&cfg.name);
            if dir.join("runs.csv").exists() && dir.join("config.toml").exists() {
                let rows: Vec<RunRow> = read_rows(&dir.join("runs.csv"))?;
                let figures = redraw(&dir)
                    .with_context(|| format!("redrawing the figures of {}", cfg.name))?;
                outcomes.push(StudyOutcome {
                    paired: paired_vs_dense(&rows),
                    path,
                    cfg,
                    dir,
                    rows,
                    figures,
                });
            }
            continue;
        }
        cfg.validate().map_err(|(f, r)| {
            anyhow::anyhow!("{}: [quick] gives field `{f}`: {r}", path.display())
        })?;
        let dir = opts.out.join(&cfg.name);
        let config_dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
        let study_started = Instant::now();
        let report = run_config(
            &cfg,
            &config_dir,
            &RunOptions {
                out: Some(dir.clone()),
                jobs: opts.jobs,
                fresh: opts.fresh,
                quiet: opts.quiet,
                shard: None,
                checkpoint_every: None,
            },
        )
        .with_context(|| format!("study {}", path.display()))?;
        let paired = paired_vs_dense(&report.rows);
        write_paired(&dir, &paired)?;
        let figures = draw_study(&dir, &cfg, &report.rows, &paired)
            .with_context(|| format!("drawing the figures of {}", cfg.name))?;
        if report.executed > 0 || opts.fresh {
            let seconds = study_started.elapsed().as_secs_f64();
            provenance::record(&dir, seconds, &machine(), opts.fresh)?;
        }
        outcomes.push(StudyOutcome {
            path,
            cfg,
            dir,
            rows: report.rows,
            paired,
            figures,
        });
    }
    let readme = render_readme(&outcomes, opts, started.elapsed().as_secs_f64())?;
    std::fs::write(opts.out.join("README.md"), readme)?;
    if !opts.quiet {
        println!(
            "reproduce: {} studies in {:.0} s -> {}",
            outcomes.len(),
            started.elapsed().as_secs_f64(),
            opts.out.join("README.md").display()
        );
    }
    Ok(())
}

/// Redraws the figures (and `paired_vs_dense.csv`) of one results folder from its CSV files and
/// the `config.toml` the runner saved there (see `draw_study`).
pub fn redraw(dir: &Path) -> Result<Vec<(PathBuf, String)>> {
    let text = std::fs::read_to_string(dir.join("config.toml"))
        .with_context(|| format!("{}: not a results folder (no config.toml)", dir.display()))?;
    let cfg: ExperimentConfig =
        toml::from_str(&text).with_context(|| format!("{}", dir.join("config.toml").display()))?;
    let runs: Vec<RunRow> = read_rows(&dir.join("runs.csv"))?;
    let paired = paired_vs_dense(&runs);
    write_paired(dir, &paired)?;
    draw_study(dir, &cfg, &runs, &paired)
}

/// The figures and analyses of a study. With the per-run files of every converged run at hand
/// (`epochs.csv` has them all), they are computed from those files; without them (a fresh
/// clone: per-run files are not committed), every figure is redrawn from its committed data
/// and no analysis file is rewritten, so that the committed results stay as they are.
fn draw_study(
    dir: &Path,
    cfg: &ExperimentConfig,
    runs: &[RunRow],
    paired: &[PairedRow],
) -> Result<Vec<(PathBuf, String)>> {
    let epochs: Vec<EpochRow> = read_rows(&dir.join("epochs.csv"))?;
    let with_files: std::collections::HashSet<&str> =
        epochs.iter().map(|e| e.run_id.as_str()).collect();
    let (converged, _) = converged(runs);
    let missing = converged
        .iter()
        .filter(|r| !with_files.contains(r.run_id.as_str()))
        .count();
    if missing > 0 {
        if let Some(figures) = crate::plots::redraw_committed(dir)? {
            if missing < converged.len() {
                eprintln!(
                    "warning: {}: {missing} of {} runs have no per-run files here (epochs.csv, \
                     ...): figures and analyses are the committed ones and do not include the \
                     runs trained now; `--fresh` recomputes them all",
                    dir.display(),
                    converged.len()
                );
            }
            return Ok(figures);
        }
    }
    crate::plots::draw(dir, &cfg.report.figures, runs, &epochs, paired)
}

fn machine() -> String {
    let cpu = experiments::runner::cpu_model();
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    format!("{cpu}, {cores} threads available")
}

fn rel(path: &Path, base: &Path) -> String {
    path.strip_prefix(base)
        .unwrap_or(path)
        .to_string_lossy()
        .replace('\\', "/")
}

/// Mean ± 95% CI of test accuracy, pivoted: rows (method, sparsity, imputation, and the
/// protocol variant when a Part II study has them), columns (mechanism, rate).
fn pivot_table(rows: &[RunRow]) -> String {
    type RowKey = (String, String, String, String);
    let variants = rows.iter().any(|r| !r.variant.is_empty());
    let mut cols: Vec<(String, String)> = Vec::new();
    let mut cells: BTreeMap<RowKey, BTreeMap<(String, String), Vec<f64>>> = BTreeMap::new();
    for r in rows {
        let col = (
            r.missing_mechanism.clone(),
            format!("{:.2}", r.missing_rate),
        );
        if !cols.contains(&col) {
            cols.push(col.clone());
        }
        cells
            .entry((
                r.method.clone(),
                format!("{:.2}", r.sparsity),
                r.imputation.clone(),
                r.variant.clone(),
            ))
            .or_default()
            .entry(col)
            .or_default()
            .push(r.test_accuracy);
    }
    cols.sort();
    let mut t = String::from("| method | sparsity | imputation |");
    if variants {
        t.push_str(" variant |");
    }
    for (m, r) in &cols {
        let _ = write!(t, " {m} {r} |");
    }
    t.push_str("\n|---|---|---|");
    t.push_str(&"---|".repeat(cols.len() + variants as usize));
    t.push('\n');
    for ((method, sp, imp, variant), by_col) in &cells {
        let _ = write!(t, "| {method} | {sp} | {imp} |");
        if variants {
            let _ = write!(t, " {variant} |");
        }
        for c in &cols {
            match by_col.get(c) {
                Some(v) => {
                    let (m, ci) = mean_ci95(v);
                    if ci.is_nan() {
                        let _ = write!(t, " {m:.3} |");
                    } else {
                        let _ = write!(t, " {m:.3} ± {ci:.3} |");
                    }
                }
                None => t.push_str(" – |"),
            }
        }
        t.push('\n');
    }
    t
}

/// Every method x sparsity at the study's lowest missing rate (first mechanism and imputation):
/// accuracy mean ± 95% CI and the paired difference to dense over seeds.
fn methods_table(rows: &[RunRow], paired: &[PairedRow]) -> Option<String> {
    // Registered methods in registry order, then the config's variants in name order.
    let mut variants: Vec<&str> = rows
        .iter()
        .map(|r| r.method.as_str())
        .filter(|m| !experiments::registry::is_known(m))
        .collect();
    variants.sort_unstable();
    variants.dedup();
    let methods: Vec<&str> = experiments::registry::names()
        .into_iter()
        .filter(|m| rows.iter().any(|r| r.method == *m))
        .chain(variants)
        .collect();
    if methods.len() < 3 {
        return None;
    }
    let rate = rows
        .iter()
        .map(|r| r.missing_rate)
        .fold(f64::INFINITY, f64::min);
    let first = rows.iter().find(|r| r.missing_rate == rate)?;
    let (mech, imp) = (first.missing_mechanism.clone(), first.imputation.clone());
    // One protocol variant (the first), so Part II variants are never averaged together.
    let variant = first.variant.clone();
    let base = |r: &RunRow| {
        r.missing_rate == rate
            && r.missing_mechanism == mech
            && r.imputation == imp
            && r.variant == variant
    };
    let mut levels: Vec<f64> = rows
        .iter()
        .filter(|r| base(r) && r.method != DENSE)
        .map(|r| r.sparsity)
        .collect();
    levels.sort_by(f64::total_cmp);
    levels.dedup();
    let has_dense = rows.iter().any(|r| base(r) && r.method == DENSE);
    let mut t = format!(
        "Every method at missing rate {rate} ({mech}, {imp}{}): test accuracy mean ± 95% CI \
         over seeds{}",
        if variant.is_empty() {
            String::new()
        } else {
            format!(", variant {variant}")
        },
        if has_dense {
            ", and in brackets the paired difference to dense (mean ± 95% CI; **bold** where \
             the paired t-test is significant after Holm's correction over the study's cells, \
             `p_holm` in paired_vs_dense.csv). Dense: "
        } else {
            ".\n"
        }
    );
    let acc = |v: Vec<f64>| mean_ci95(&v);
    if has_dense {
        let (dm, dc) = acc(rows
            .iter()
            .filter(|r| base(r) && r.method == DENSE)
            .map(|r| r.test_accuracy)
            .collect());
        let _ = writeln!(t, "{dm:.3} ± {dc:.3}.\n");
    }
    t.push_str("| method |");
    for l in &levels {
        let _ = write!(t, " sparsity {l} |");
    }
    t.push_str("\n|---|");
    t.push_str(&"---|".repeat(levels.len()));
    t.push('\n');
    for m in methods.iter().filter(|m| **m != DENSE) {
        let _ = write!(t, "| {m} |");
        for &l in &levels {
            let v: Vec<f64> = rows
                .iter()
                .filter(|r| base(r) && r.method == *m && r.sparsity == l)
                .map(|r| r.test_accuracy)
                .collect();
            if v.is_empty() {
                t.push_str(" – |");
                continue;
            }
            let (am, ac) = acc(v);
            let p = paired.iter().find(|p| {
                p.method == *m
                    && p.sparsity == l
                    && p.missing_rate == rate
                    && p.missing_mechanism == mech
                    && p.imputation == imp
                    && p.variant == variant
            });
            match p {
                Some(p) if p.n > 1 => {
                    let sig = experiments::significance::significant(p.p_holm);
                    let d = format!("{:+.3} ± {:.3}", p.diff_mean, p.diff_ci95);
                    let _ = write!(
                        t,
                        " {am:.3} ± {ac:.3} ({}) |",
                        if sig { format!("**{d}**") } else { d }
                    );
                }
                _ => {
                    let _ = write!(t, " {am:.3} ± {ac:.3} |");
                }
            }
        }
        t.push('\n');
    }
    Some(t)
}

fn render_readme(outcomes: &[StudyOutcome], opts: &ReproduceOptions, total: f64) -> Result<String> {
    let base = &opts.out;
    let mut s = String::new();
    let _ = writeln!(s, "# Reproduced results\n");
    let _ = writeln!(
        s,
        "Generated by `cargo xtask reproduce{}` at commit `{}` on {} in {:.0} s of wall time \
         (studies resumed from earlier runs count only the time of this call). Every number \
         below is read from the CSV files next to this page; the verdict prose is in \
         [DISCUSSION.md](DISCUSSION.md).\n",
        if opts.quick { " --quick" } else { "" },
        git_commit(),
        machine(),
        total
    );
    // What a fresh run costs, from the runs themselves (resumed studies included).
    let runs: usize = outcomes.iter().map(|o| o.rows.len()).sum();
    let training: f64 = outcomes
        .iter()
        .flat_map(|o| &o.rows)
        .map(|r| r.train_seconds)
        .sum();
    let commits: std::collections::BTreeSet<&str> = outcomes
        .iter()
        .flat_map(|o| &o.rows)
        .map(|r| r.commit.as_str())
        .collect();
    let _ = writeln!(
        s,
        "The {runs} runs shown took {:.0} s of training in total (the sum of `train_seconds`; \
         evaluation, data preparation and analysis come on top), run at commit(s) {}.\n",
        training,
        commits
            .iter()
            .map(|c| format!("`{}`", &c[..c.len().min(7)]))
            .collect::<Vec<_>>()
            .join(", ")
    );
    s.push_str(&provenance::readme_lines(outcomes.iter().map(|o| {
        (o.cfg.name.as_str(), o.dir.as_path(), o.rows.as_slice())
    }))?);
    for o in outcomes {
        let seeds = o.cfg.grid.seeds.to_vec().len();
        let _ = writeln!(s, "## {}\n", o.cfg.name);
        let _ = writeln!(s, "{}\n", o.cfg.description.trim());
        let _ = writeln!(
            s,
            "- config: `{}`{}; {} runs ({} seeds per cell), {:.0} s of training (the sum of \
             `train_seconds` in runs.csv, whose `commit` column says which code ran each){}",
            o.path
                .file_name()
                .map(|f| format!("experiments/studies/{}", f.to_string_lossy()))
                .unwrap_or_default(),
            if opts.quick {
                " with its `[quick]` overrides"
            } else {
                ""
            },
            o.rows.len(),
            seeds,
            o.rows.iter().map(|r| r.train_seconds).sum::<f64>(),
            match provenance::read(&o.dir)? {
                Some(t) => format!("; {:.0} s of wall time ({})", t.wall_seconds, t.machine),
                None => String::new(),
            }
        );
        let _ = writeln!(
            s,
            "- files: [`runs.csv`]({0}/runs.csv), [`summary.csv`]({0}/summary.csv), \
             [`paired_vs_dense.csv`]({0}/paired_vs_dense.csv) (epochs.csv, examples.csv, \
             topology.csv, input_degree.csv, predictions.csv and step_forgetting.csv are \
             regenerated by the command, not committed)\n",
            rel(&o.dir, base)
        );
        let (kept, n_diverged) = converged(&o.rows);
        if n_diverged > 0 {
            let _ = writeln!(
                s,
                "**{n_diverged} run(s) diverged** (a non-finite output, weight or bias; \
                 `diverged` in runs.csv) and are left out of every table, figure and analysis \
                 below; `n_diverged` in summary.csv and paired_vs_dense.csv counts them per \
                 cell.\n"
            );
        }
        // A study with many protocol variants (subset rules x fractions) has its own table;
        // the pivot would repeat it row by row.
        let variants: std::collections::BTreeSet<&str> =
            kept.iter().map(|r| r.variant.as_str()).collect();
        if variants.len() <= 16 {
            let _ = writeln!(
                s,
                "Test accuracy after the last epoch, mean ± 95% CI (Student's t) over seeds; \
                 columns are missingness mechanism and rate:\n"
            );
            s.push_str(&pivot_table(&kept));
            s.push('\n');
        }
        // Across methods at one protocol: plain training (Part II variants have their tables).
        let plain: Vec<RunRow> = kept
            .iter()
            .filter(|r| r.variant.is_empty())
            .cloned()
            .collect();
        if let Some(t) = methods_table(&plain, &o.paired) {
            s.push_str(&t);
            s.push('\n');
        }
        for study in crate::registry() {
            if let Some(t) = study.readme(&o.dir)? {
                s.push_str(&t);
                s.push('\n');
            }
        }
        let significant = |p: &&PairedRow| experiments::significance::significant(p.p_holm);
        let better = o
            .paired
            .iter()
            .filter(significant)
            .filter(|p| p.diff_mean > 0.0)
            .count();
        let worse = o
            .paired
            .iter()
            .filter(significant)
            .filter(|p| p.diff_mean < 0.0)
            .count();
        let p_holm: Vec<f64> = o.paired.iter().map(|p| p.p_holm).collect();
        let _ = writeln!(
            s,
            "Paired against dense over seeds (a two-sided paired t-test per sparse cell, Holm's \
             correction over the study's cells): {}; {better} significantly more accurate than \
             dense, {worse} significantly less.\n",
            experiments::significance::ClaimTally::of(&p_holm),
        );
        for (path, caption) in &o.figures {
            let png = format!("{}.png", rel(path, base));
            let name = path
                .file_name()
                .map(|f| f.to_string_lossy().into_owned())
                .unwrap_or_default();
            let _ = writeln!(
                s,
                "![{name}]({png})\n\n*{caption}* ([SVG]({}.svg))\n",
                rel(path, base)
            );
        }
    }
    Ok(s)
}
