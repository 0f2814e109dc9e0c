//! Aggregation of finished runs over seeds: `summary.csv` (one row per grid cell, with mean,
//! standard deviation and a 95% confidence interval of the test accuracy) and the table printed
//! at the end of a run.

use crate::cell::Cell;
use crate::results::RunRow;
use anyhow::{Context, Result};
use polars::prelude::*;
use statrs::distribution::{ContinuousCDF, StudentsT};
use std::path::Path;

/// Mean and sample standard deviation (`n - 1` in the denominator; NaN with fewer than two
/// values).
pub fn mean_std(v: &[f64]) -> (f64, f64) {
    let n = v.len();
    let m = v.iter().sum::<f64>() / n as f64;
    let sd = if n > 1 {
        (v.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (n - 1) as f64).sqrt()
    } else {
        f64::NAN
    };
    (m, sd)
}

/// Mean and the half-width of its Student-t 95% confidence interval (NaN below two values).
pub fn mean_ci95(v: &[f64]) -> (f64, f64) {
    let (m, sd) = mean_std(v);
    (m, ci95_half_width(sd, v.len()))
}

/// Half-width of the two-sided 95% confidence interval of a mean of `n` values with sample
/// standard deviation `std`: Student's t with `n - 1` degrees of freedom (2.776 at `n = 5`).
/// Undefined (NaN) for fewer than two values.
pub fn ci95_half_width(std: f64, n: usize) -> f64 {
    if n < 2 {
        return f64::NAN;
    }
    let t = StudentsT::new(0.0, 1.0, (n - 1) as f64)
        .expect("positive degrees of freedom")
        .inverse_cdf(0.975);
    t * std / (n as f64).sqrt()
}

/// The runs as a polars frame.
pub fn runs_frame(rows: &[RunRow]) -> Result<DataFrame> {
    let col_s = |f: fn(&RunRow) -> &str| rows.iter().map(f).map(String::from).collect::<Vec<_>>();
    let df = df!(
        "experiment" => col_s(|r| &r.experiment),
        "dataset" => col_s(|r| &r.dataset),
        "method" => col_s(|r| &r.method),
        "sparsity" => rows.iter().map(|r| r.sparsity).collect::<Vec<_>>(),
        "missing_mechanism" => col_s(|r| &r.missing_mechanism),
        "missing_rate" => rows.iter().map(|r| r.missing_rate).collect::<Vec<_>>(),
        "imputation" => col_s(|r| &r.imputation),
        "variant" => col_s(|r| &r.variant),
        "seed" => rows.iter().map(|r| r.seed).collect::<Vec<_>>(),
        "diverged" => rows.iter().map(|r| r.diverged).collect::<Vec<_>>(),
        "test_accuracy" => rows.iter().map(|r| r.test_accuracy).collect::<Vec<_>>(),
        "nnz" => rows.iter().map(|r| r.nnz as f64).collect::<Vec<_>>(),
        "params_dense" => rows.iter().map(|r| r.params_dense as f64).collect::<Vec<_>>(),
        "train_seconds" => rows.iter().map(|r| r.train_seconds).collect::<Vec<_>>(),
        "train_flops" => rows.iter().map(|r| r.train_flops as f64).collect::<Vec<_>>(),
        "layer_density" => col_s(|r| &r.layer_density),
    )?;
    Ok(df)
}

/// One row per grid cell: `n` (runs that trained to the end), `n_diverged` (runs left out
/// because they diverged), `test_accuracy_mean`, `test_accuracy_std`, `test_accuracy_ci95`,
/// and means of `nnz`, `train_seconds` and `train_flops`, all over the `n` runs.
pub fn summarise(rows: &[RunRow]) -> Result<DataFrame> {
    let keys: Vec<Expr> = Cell::COLUMNS.iter().map(|k| col(*k)).collect();
    let kept = |c: &str| col(c).filter(col("diverged").not());
    // In key order, not the order runs finished in (which parallel runs change): a float sum
    // depends on its order, and the summary must not depend on --jobs.
    let mut rows = rows.to_vec();
    rows.sort_by(|a, b| a.run_id.cmp(&b.run_id));
    let mut df = runs_frame(&rows)?
        .lazy()
        .group_by(keys)
        .agg([
            col("diverged").not().sum().alias("n"),
            col("diverged").sum().alias("n_diverged"),
            kept("test_accuracy").mean().alias("test_accuracy_mean"),
            kept("test_accuracy").std(1).alias("test_accuracy_std"),
            kept("nnz").mean().alias("nnz_mean"),
            col("params_dense").first().alias("params_dense"),
            kept("train_seconds").mean().alias("train_seconds_mean"),
            kept("train_flops").mean().alias("train_flops_mean"),
            col("layer_density").first().alias("layer_density"),
        ])
        .sort(
            Cell::COLUMNS.to_vec(),
            SortMultipleOptions::default().with_maintain_order(true),
        )
        .collect()?;
    let n: Vec<usize> = df
        .column("n")?
        .cast(&DataType::UInt64)?
        .u64()?
        .into_no_null_iter()
        .map(|v| v as usize)
        .collect();
    let std: Vec<f64> = df
        .column("test_accuracy_std")?
        .f64()?
        .iter()
        .map(|v| v.unwrap_or(f64::NAN))
        .collect();
    let ci: Vec<f64> = n
        .iter()
        .zip(&std)
        .map(|(&n, &s)| ci95_half_width(s, n))
        .collect();
    df.with_column(Column::new("test_accuracy_ci95".into(), ci))?;
    Ok(df)
}

/// Writes `summary.csv` into `dir`, returning the frame.
pub fn write_summary(dir: &Path, rows: &[RunRow]) -> Result<DataFrame> {
    let mut df = summarise(rows)?;
    let path = dir.join("summary.csv");
    let tmp = dir.join("summary.csv.tmp");
    {
        let mut f =
            std::fs::File::create(&tmp).with_context(|| format!("writing {}", tmp.display()))?;
        CsvWriter::new(&mut f)
            .include_header(true)
            .finish(&mut df)?;
        f.sync_all()?;
    }
    std::fs::rename(&tmp, &path)?;
    Ok(df)
}

/// A plain-text table of a summary frame for the terminal.
pub fn format_table(df: &DataFrame) -> Result<String> {
    let get_s = |c: &str| -> Result<Vec<String>> {
        Ok(df
            .column(c)?
            .str()?
            .iter()
            .map(|v| v.unwrap_or("").to_string())
            .collect())
    };
    let get_f = |c: &str| -> Result<Vec<f64>> {
        Ok(df
            .column(c)?
            .cast(&DataType::Float64)?
            .f64()?
            .iter()
            .map(|v| v.unwrap_or(f64::NAN))
            .collect())
    };
    let (method, mech, imp) = (
        get_s("method")?,
        get_s("missing_mechanism")?,
        get_s("imputation")?,
    );
    let (sp, rate, n) = (get_f("sparsity")?, get_f("missing_rate")?, get_f("n")?);
    // Runs left out of the means because they diverged.
    let diverged = get_f("n_diverged")?;
    let (mean, std, ci) = (
        get_f("test_accuracy_mean")?,
        get_f("test_accuracy_std")?,
        get_f("test_accuracy_ci95")?,
    );
    let (nnz, dense, secs) = (
        get_f("nnz_mean")?,
        get_f("params_dense")?,
        get_f("train_seconds_mean")?,
    );
    let densities = get_s("layer_density")?;
    let variant = get_s("variant")?;
    let mut out = format!(
        "{:<8} {:>8} {:>24} {:>16} {:>3} {:>3} {:>9} {:>7} {:>8} {:>11} {:>9}  {}\n",
        "method",
        "sparsity",
        "missing",
        "imputation",
        "n",
        "div",
        "acc mean",
        "std",
        "ci95 ±",
        "nnz",
        "train s",
        "layer density"
    );
    for i in 0..df.height() {
        out.push_str(&format!(
            "{:<8} {:>8.3} {:>24} {:>16} {:>3} {:>3} {:>9.4} {:>7.4} {:>8.4} {:>11} {:>9.2}  {}\n",
            method[i],
            sp[i],
            format!("{}:{}", mech[i], rate[i]),
            match variant[i].as_str() {
                "" => imp[i].clone(),
                v => format!("{} {v}", imp[i]),
            },
            n[i],
            diverged[i],
            mean[i],
            std[i],
            ci[i],
            format!("{:.0}/{:.0}", nnz[i], dense[i]),
            secs[i],
            densities[i],
        ));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(method: &str, seed: u64, acc: f64) -> RunRow {
        crate::results::sample_row(method, seed, acc)
    }

    #[test]
    fn t_quantile_matches_tables() {
        // t_{0.975, 4} = 2.776; t_{0.975, 2} = 4.303.
        assert!((ci95_half_width(1.0, 5) * 5f64.sqrt() - 2.776).abs() < 1e-3);
        assert!((ci95_half_width(1.0, 3) * 3f64.sqrt() - 4.303).abs() < 1e-3);
        assert!(ci95_half_width(1.0, 1).is_nan());
    }

    #[test]
    fn summary_by_hand() {
        let rows = vec![
            row("set", 1, 0.9),
            row("set", 2, 0.8),
            row("set", 3, 1.0),
            row("static", 1, 0.5),
        ];
        let df = summarise(&rows).unwrap();
        assert_eq!(df.height(), 2);
        let mean = df
            .column("test_accuracy_mean")
            .unwrap()
            .f64()
            .unwrap()
            .get(0)
            .unwrap();
        let std = df
            .column("test_accuracy_std")
            .unwrap()
            .f64()
            .unwrap()
            .get(0)
            .unwrap();
        let ci = df
            .column("test_accuracy_ci95")
            .unwrap()
            .f64()
            .unwrap()
            .get(0)
            .unwrap();
        assert!((mean - 0.9).abs() < 1e-12);
        assert!((std - 0.1).abs() < 1e-12);
        assert!((ci - 4.303 * 0.1 / 3f64.sqrt()).abs() < 1e-3);
        let table = format_table(&df).unwrap();
        assert!(table.contains("set") && table.contains("0.9000"), "{table}");
    }

    fn column_f64(df: &DataFrame, name: &str) -> Vec<f64> {
        df.column(name)
            .unwrap()
            .cast(&DataType::Float64)
            .unwrap()
            .f64()
            .unwrap()
            .iter()
            .map(|v| v.unwrap_or(f64::NAN))
            .collect()
    }

    #[test]
    fn diverged_runs_are_counted_and_left_out_of_every_mean() {
        let diverged = |seed, acc| RunRow {
            diverged: true,
            diverged_epoch: Some(1),
            nnz: 1_000,
            train_seconds: 50.0,
            ..row("set", seed, acc)
        };
        let rows = vec![
            row("set", 1, 0.9),
            row("set", 2, 0.8),
            diverged(3, 0.33),
            RunRow {
                method: "static".into(),
                ..diverged(1, 0.5)
            },
        ];
        let df = summarise(&rows).unwrap();
        assert_eq!(column_f64(&df, "n"), vec![2.0, 0.0]);
        assert_eq!(column_f64(&df, "n_diverged"), vec![1.0, 1.0]);
        let mean = column_f64(&df, "test_accuracy_mean");
        assert!((mean[0] - 0.85).abs() < 1e-12, "{mean:?}");
        assert!(
            mean[1].is_nan(),
            "a cell whose runs all diverged has no mean: {mean:?}"
        );
        assert_eq!(column_f64(&df, "nnz_mean")[0], 10.0);
        assert!((column_f64(&df, "train_seconds_mean")[0] - 0.1).abs() < 1e-12);
        let std = column_f64(&df, "test_accuracy_std")[0];
        assert!((std - 0.1f64 / 2f64.sqrt()).abs() < 1e-12, "{std}");
        format_table(&df).unwrap();
    }
}
