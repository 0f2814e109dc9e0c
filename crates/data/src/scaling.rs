//! Per-column feature scaling fitted on observed training values only. Missing cells stay at exactly `0.0` after
//! [`Scaler::transform`]; after standardisation that is mean imputation, which is why the
//! `absent` and `zero` input modes coincide after standardisation.

use serde::{Deserialize, Serialize};

use crate::dataset::Dataset;

/// Which scaler to fit; the name used in configs (`"none"`, `"standard"`, `"minmax"`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ScalingKind {
    /// Leave values as they are.
    None,
    /// Zero mean, unit population standard deviation per column.
    Standard,
    /// Map each column's observed range onto [0, 1].
    MinMax,
}

/// A fitted per-column scaler. Fit it on the training rows, then transform train and test.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Scaler {
    /// The identity.
    None,
    /// `x -> (x - mean) / std`. A constant column, or one with no observed value (mean 0),
    /// has `std = 1`, so it maps to `x - mean` and nothing divides by zero.
    Standard {
        /// Mean of each column's observed values.
        mean: Vec<f32>,
        /// Population standard deviation of each column's observed values (1 if zero).
        std: Vec<f32>,
    },
    /// `x -> (x - min) / (max - min)`, with a range of 1 where `max <= min` (a constant
    /// column); a column with no observed value has `min = 0, max = 1`. Missing cells stay
    /// `0.0`, which here means the column minimum, not the mean.
    MinMax {
        /// Smallest observed value of each column.
        min: Vec<f32>,
        /// Largest observed value of each column.
        max: Vec<f32>,
    },
}

impl Scaler {
    /// Fits a scaler of the given kind on the observed cells of `data`, column by column, with
    /// the statistics accumulated in `f64` (then stored as `f32`, the models' precision).
    pub fn fit(kind: ScalingKind, data: &Dataset) -> Scaler {
        let d = data.n_features();
        let mut count = vec![0usize; d];
        let mut sum = vec![0.0f64; d];
        let mut min = vec![f64::INFINITY; d];
        let mut max = vec![f64::NEG_INFINITY; d];
        for i in 0..data.n_rows() {
            let (row, obs) = (data.row(i), data.observed_row(i));
            for j in 0..d {
                if obs[j] {
                    let x = f64::from(row[j]);
                    count[j] += 1;
                    sum[j] += x;
                    min[j] = min[j].min(x);
                    max[j] = max[j].max(x);
                }
            }
        }
        match kind {
            ScalingKind::None => Scaler::None,
            ScalingKind::MinMax => {
                let (min, max) = (0..d)
                    .map(|j| match count[j] {
                        0 => (0.0, 1.0),
                        _ => (min[j] as f32, max[j] as f32),
                    })
                    .unzip();
                Scaler::MinMax { min, max }
            }
            ScalingKind::Standard => {
                let mean: Vec<f64> = (0..d)
                    .map(|j| match count[j] {
                        0 => 0.0,
                        // A constant column's mean is its value exactly, not sum / n rounded.
                        _ if min[j] == max[j] => min[j],
                        c => sum[j] / c as f64,
                    })
                    .collect();
                // Second pass over deviations: stabler than E[x^2] - E[x]^2.
                let mut squares = vec![0.0f64; d];
                for i in 0..data.n_rows() {
                    let (row, obs) = (data.row(i), data.observed_row(i));
                    for j in 0..d {
                        if obs[j] {
                            let dev = f64::from(row[j]) - mean[j];
                            squares[j] += dev * dev;
                        }
                    }
                }
                let std = (0..d)
                    .map(|j| {
                        let s = if count[j] == 0 || min[j] == max[j] {
                            1.0
                        } else {
                            (squares[j] / count[j] as f64).sqrt() as f32
                        };
                        if s > 0.0 && s.is_finite() {
                            s
                        } else {
                            1.0
                        }
                    })
                    .collect();
                let mean = mean.into_iter().map(|m| m as f32).collect();
                Scaler::Standard { mean, std }
            }
        }
    }

    /// The kind this scaler was fitted as.
    pub fn kind(&self) -> ScalingKind {
        match self {
            Scaler::None => ScalingKind::None,
            Scaler::Standard { .. } => ScalingKind::Standard,
            Scaler::MinMax { .. } => ScalingKind::MinMax,
        }
    }

    /// Scales the observed cells of `data` in place (arithmetic in `f64`) and sets every
    /// missing cell to exactly `0.0`.
    ///
    /// # Panics
    /// If `data` has a different number of features from the data the scaler was fitted on.
    pub fn transform(&self, data: &mut Dataset) {
        let (offset, scale): (&[f32], Vec<f64>) = match self {
            Scaler::None => {
                for (v, &o) in data.values.iter_mut().zip(&data.observed) {
                    if !o {
                        *v = 0.0;
                    }
                }
                return;
            }
            Scaler::Standard { mean, std } => (
                mean,
                std.iter()
                    .map(|&s| if s > 0.0 { f64::from(s) } else { 1.0 })
                    .collect(),
            ),
            Scaler::MinMax { min, max } => (
                min,
                min.iter()
                    .zip(max)
                    .map(|(&lo, &hi)| {
                        let range = f64::from(hi) - f64::from(lo);
                        if range > 0.0 {
                            range
                        } else {
                            1.0
                        }
                    })
                    .collect(),
            ),
        };
        let d = data.n_features();
        assert_eq!(
            offset.len(),
            d,
            "scaler fitted on {} features applied to {d}",
            offset.len()
        );
        for (k, (v, &o)) in data.values.iter_mut().zip(&data.observed).enumerate() {
            let j = k % d;
            *v = if o {
                ((f64::from(*v) - f64::from(offset[j])) / scale[j]) as f32
            } else {
                0.0
            };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dataset::tests::small;
    use proptest::prelude::*;

    /// Column a: 1, 2, 3, missing; b: constant 5; c: all missing; d: 2, 4, missing, 6.
    fn table() -> Dataset {
        let nan = f32::NAN;
        #[rustfmt::skip]
        let raw = [
            1.0, 5.0, nan, 2.0,
            2.0, 5.0, nan, 4.0,
            3.0, 5.0, nan, nan,
            nan, 5.0, nan, 6.0,
        ];
        Dataset {
            name: "t".into(),
            feature_names: ["a", "b", "c", "d"].map(String::from).to_vec(),
            class_names: vec!["x".into(), "y".into()],
            values: raw
                .iter()
                .map(|v| if v.is_nan() { 0.0 } else { *v })
                .collect(),
            observed: raw.iter().map(|v| !v.is_nan()).collect(),
            labels: vec![0, 1, 0, 1],
            row_ids: vec![0, 1, 2, 3],
            categories: vec![Vec::new(); 4],
        }
    }

    fn close(a: &[f32], b: &[f32]) -> bool {
        a.len() == b.len() && a.iter().zip(b).all(|(x, y)| (x - y).abs() < 1e-5)
    }

    #[test]
    fn standard_by_hand() {
        let mut ds = table();
        let scaler = Scaler::fit(ScalingKind::Standard, &ds);
        let Scaler::Standard { mean, std } = &scaler else {
            panic!("wrong kind")
        };
        // a: mean 2, population std sqrt(2/3); d: mean 4, std sqrt(8/3)
        let (sa, sd) = ((2.0f32 / 3.0).sqrt(), (8.0f32 / 3.0).sqrt());
        assert!(close(mean, &[2.0, 5.0, 0.0, 4.0]), "{mean:?}");
        assert!(close(std, &[sa, 1.0, 1.0, sd]), "{std:?}");
        scaler.transform(&mut ds);
        let r = 1.0 / sa; // 1.2247449
        #[rustfmt::skip]
        let want = [
            -r,  0.0, 0.0, -2.0 / sd,
            0.0, 0.0, 0.0, 0.0,
            r,   0.0, 0.0, 0.0,
            0.0, 0.0, 0.0, 2.0 / sd,
        ];
        assert!(close(&ds.values, &want), "{:?}", ds.values);
        assert!(ds.validate().is_ok());
    }

    #[test]
    fn minmax_by_hand() {
        let mut ds = table();
        let scaler = Scaler::fit(ScalingKind::MinMax, &ds);
        assert_eq!(
            scaler,
            Scaler::MinMax {
                min: vec![1.0, 5.0, 0.0, 2.0],
                max: vec![3.0, 5.0, 1.0, 6.0]
            }
        );
        scaler.transform(&mut ds);
        #[rustfmt::skip]
        let want = [
            0.0, 0.0, 0.0, 0.0,
            0.5, 0.0, 0.0, 0.5,
            1.0, 0.0, 0.0, 0.0,
            0.0, 0.0, 0.0, 1.0,
        ];
        assert!(close(&ds.values, &want), "{:?}", ds.values);
    }

    #[test]
    fn fitted_on_train_applied_to_test() {
        let ds = small(); // x: 1, 3, 5; y: 2, missing, 6
        let train = ds.subset(&[0, 2]);
        let scaler = Scaler::fit(ScalingKind::Standard, &train);
        let mut test = ds.subset(&[1]);
        scaler.transform(&mut test);
        // x: mean 3, std 2 -> (3 - 3) / 2 = 0; y missing stays 0
        assert_eq!(test.values, vec![0.0, 0.0]);
        let mut none = ds.clone();
        Scaler::fit(ScalingKind::None, &ds).transform(&mut none);
        assert_eq!(none, ds);
        assert_eq!(scaler.kind(), ScalingKind::Standard);
    }

    #[test]
    fn kind_names_in_configs() {
        assert_eq!(
            serde_json::to_string(&ScalingKind::MinMax).unwrap(),
            "\"minmax\""
        );
        let k: ScalingKind = serde_json::from_str("\"standard\"").unwrap();
        assert_eq!(k, ScalingKind::Standard);
        assert!(serde_json::from_str::<ScalingKind>("\"Standard\"").is_err());
    }

    proptest! {
        #[test]
        fn standardised_observed_columns_have_mean_0_std_1(
            cells in proptest::collection::vec(
                proptest::option::weighted(0.7, -400i32..400), 6..90),
            d in 1usize..4,
        ) {
            let n = cells.len() / d;
            // quarter steps keep the values exact in f32 and the spread well above rounding
            let raw: Vec<Option<f32>> =
                cells[..n * d].iter().map(|c| c.map(|v| v as f32 * 0.25)).collect();
            let mut ds = Dataset {
                name: "p".into(),
                feature_names: (0..d).map(|j| j.to_string()).collect(),
                class_names: vec!["a".into(), "b".into()],
                values: raw.iter().map(|v| v.unwrap_or(0.0)).collect(),
                observed: raw.iter().map(Option::is_some).collect(),
                labels: vec![0; n],
                row_ids: (0..n).collect(),
                categories: vec![Vec::new(); d],
            };
            Scaler::fit(ScalingKind::Standard, &ds).transform(&mut ds);
            for j in 0..d {
                let col: Vec<f64> = (0..n)
                    .filter(|&i| ds.observed[i * d + j])
                    .map(|i| f64::from(ds.values[i * d + j]))
                    .collect();
                for i in (0..n).filter(|&i| !ds.observed[i * d + j]) {
                    prop_assert_eq!(ds.values[i * d + j], 0.0);
                }
                if col.is_empty() {
                    continue;
                }
                let m = col.iter().sum::<f64>() / col.len() as f64;
                let var = col.iter().map(|x| (x - m) * (x - m)).sum::<f64>() / col.len() as f64;
                prop_assert!(m.abs() < 1e-5, "column {} mean {}", j, m);
                let constant = raw.iter().skip(j).step_by(d).flatten().all(|&v| {
                    Some(v) == raw.iter().skip(j).step_by(d).flatten().next().copied()
                });
                if constant {
                    prop_assert!(col.iter().all(|&x| x == 0.0));
                } else {
                    prop_assert!((var.sqrt() - 1.0).abs() < 1e-4, "column {} std {}", j, var.sqrt());
                }
            }
        }
    }
}
