//! The mechanisms against their definitions: rates, which cells each may remove, calibration
//! on one table and application to another, and the errors.

use super::rules::*;
use super::setup::*;
use super::*;
use proptest::prelude::*;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

const N: usize = 2000;
const D: usize = 10;

const ALL: [Mechanism; 6] = [
    Mechanism::Mcar,
    Mechanism::Mar,
    Mechanism::Mnar,
    Mechanism::MnarLogistic,
    Mechanism::MnarSelfLogistic,
    Mechanism::MnarQuantile,
];

/// `N x D` Gaussian columns with different units: column j has mean j and std 1 + j.
fn gaussian(seed: u64) -> Vec<f32> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut v = Vec::with_capacity(N * D);
    for _ in 0..N {
        for j in 0..D {
            v.push((j as f64 + (1.0 + j as f64) * standard_normal(&mut rng)) as f32);
        }
    }
    v
}

/// Params under which `m` reaches rates up to 0.5 on `N x D` data: the defaults, except
/// that quantile censoring acts on all columns above their 0.4-quantile (60 % of cells
/// eligible, where the defaults allow 7.5 %).
fn reachable_params(m: Mechanism) -> AmputationParams {
    if m != Mechanism::MnarQuantile {
        return AmputationParams::default();
    }
    AmputationParams {
        quantile_columns: Some(1.0),
        quantile: 0.4,
        ..AmputationParams::default()
    }
}

fn run(
    values: &[f32],
    observed: &[bool],
    m: Mechanism,
    rate: f64,
    params: &AmputationParams,
    seed: u64,
) -> Result<Amputation, AmputationError> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    ampute(
        Cells::new(values, observed, N, D),
        m,
        rate,
        params,
        &mut rng,
    )
}

/// Columns in which `a` removed at least one cell.
fn touched_columns(a: &Amputation) -> Vec<usize> {
    (0..D).filter(|&j| a.per_column_rate[j] > 0.0).collect()
}

/// A run's test split gets the training split's mechanism: applied to the first half of
/// the rows, a setup fitted on all of them removes exactly the cells it removes from that
/// half when the uniforms are the same. Refitted on the half, the column choice, weights,
/// standardisation, intercepts and thresholds would differ.
#[test]
fn a_setup_fitted_on_one_table_applies_unchanged_to_another() {
    let values = gaussian(21);
    let observed = vec![true; N * D];
    let half = N / 2 * D;
    for m in ALL {
        let params = reachable_params(m);
        let mut fit_rng = ChaCha8Rng::seed_from_u64(5);
        let setup = MissingnessSetup::fit(
            Cells::new(&values, &observed, N, D),
            m,
            0.3,
            &params,
            &mut fit_rng,
        )
        .unwrap();
        let mut draws = ChaCha8Rng::seed_from_u64(6);
        let whole = setup
            .draw(Cells::new(&values, &observed, N, D), &mut draws.clone())
            .unwrap();
        let first = setup
            .draw(
                Cells::new(&values[..half], &observed[..half], N / 2, D),
                &mut draws,
            )
            .unwrap();
        assert_eq!(first.mask_missing, whole.mask_missing[..half], "{m}");
        let refit = ampute(
            Cells::new(&values[..half], &observed[..half], N / 2, D),
            m,
            0.3,
            &params,
            &mut ChaCha8Rng::seed_from_u64(5),
        )
        .unwrap();
        if m != Mechanism::Mcar {
            assert_ne!(
                refit.mask_missing, first.mask_missing,
                "{m}: refitting differs"
            );
        }
    }
}

/// On a second table from the same distribution the setup keeps its columns (MAR's
/// always-observed ones, the censored ones) and its rate.
#[test]
fn a_fitted_setup_keeps_its_columns_and_rate_on_new_data() {
    let (train, test) = (gaussian(31), gaussian(32));
    let observed = vec![true; N * D];
    let cases = [
        (Mechanism::Mcar, AmputationParams::default(), 0.3),
        (Mechanism::Mar, AmputationParams::default(), 0.3),
        (Mechanism::Mnar, AmputationParams::default(), 0.3),
        (
            Mechanism::MnarSelfLogistic,
            AmputationParams::default(),
            0.3,
        ),
        (Mechanism::MnarQuantile, AmputationParams::default(), 0.05),
    ];
    for (m, params, rate) in cases {
        let mut rng = ChaCha8Rng::seed_from_u64(9);
        let setup = MissingnessSetup::fit(
            Cells::new(&train, &observed, N, D),
            m,
            rate,
            &params,
            &mut rng,
        )
        .unwrap();
        let a = setup
            .draw(Cells::new(&train, &observed, N, D), &mut rng)
            .unwrap();
        let b = setup
            .draw(Cells::new(&test, &observed, N, D), &mut rng)
            .unwrap();
        assert_eq!(touched_columns(&a), touched_columns(&b), "{m}");
        if matches!(m, Mechanism::Mar | Mechanism::MnarQuantile) {
            assert!(touched_columns(&a).len() < D, "{m} leaves columns alone");
        }
        for r in [a.realized_rate, b.realized_rate] {
            assert!((r - rate).abs() < 0.02, "{m}: {r} vs {rate}");
        }
    }
}

#[test]
fn a_setup_refuses_a_table_of_other_columns() {
    let values = gaussian(1);
    let observed = vec![true; N * D];
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    let params = AmputationParams::default();
    let setup = MissingnessSetup::fit(
        Cells::new(&values, &observed, N, D),
        Mechanism::Mar,
        0.2,
        &params,
        &mut rng,
    )
    .unwrap();
    let e = setup
        .draw(Cells::new(&values, &observed, N * 2, D / 2), &mut rng)
        .unwrap_err();
    assert!(matches!(e, AmputationError::ShapeMismatch { .. }), "{e}");
}

/// Mean of the raw values at the cells a mask removes.
fn mean_removed(values: &[f32], mask: &[bool]) -> f64 {
    let (sum, count) = values
        .iter()
        .zip(mask)
        .filter(|(_, &m)| m)
        .fold((0.0, 0usize), |(s, c), (&v, _)| (s + f64::from(v), c + 1));
    sum / count as f64
}

#[test]
fn names_match_serde_and_bare_mnar_keeps_its_name() {
    for m in ALL.into_iter().chain([Mechanism::None]) {
        let json = serde_json::to_string(&m).unwrap();
        assert_eq!(json, format!("\"{}\"", m.name()));
        assert_eq!(serde_json::from_str::<Mechanism>(&json).unwrap(), m);
    }
    assert_eq!(Mechanism::Mnar.to_string(), "mnar");
    assert_eq!(Mechanism::MnarSelfLogistic.name(), "mnar-self-logistic");
}

#[test]
fn params_defaults_unknown_fields_and_validation() {
    let p: AmputationParams = serde_json::from_str("{}").unwrap();
    assert_eq!(p, AmputationParams::default());
    assert_eq!((p.p_obs, p.p_params, p.quantile), (0.3, 0.3, 0.75));
    assert_eq!(p.cut, Cut::Upper);
    let p: AmputationParams = serde_json::from_str(r#"{"cut": "both"}"#).unwrap();
    assert_eq!(p.cut, Cut::Both);
    assert!(serde_json::from_str::<AmputationParams>(r#"{"p_ob": 0.3}"#).is_err());
    assert!(p.validate().is_ok());
    for (bad, field) in [
        (
            AmputationParams {
                p_obs: 1.0,
                ..p.clone()
            },
            "p_obs",
        ),
        (
            AmputationParams {
                p_params: f64::NAN,
                ..p.clone()
            },
            "p_params",
        ),
        (
            AmputationParams {
                quantile: 1.0,
                ..p.clone()
            },
            "quantile",
        ),
    ] {
        let msg = bad.validate().unwrap_err().to_string();
        assert!(msg.starts_with(field), "{msg}");
    }
}

#[test]
fn sigmoid_and_intercept_known_answers() {
    assert_eq!(sigmoid(0.0), 0.5);
    assert!((sigmoid(2.0) - 1.0 / (1.0 + (-2.0f64).exp())).abs() < 1e-15);
    assert!((sigmoid(-2.0) + sigmoid(2.0) - 1.0).abs() < 1e-15);
    assert_eq!(sigmoid(-1000.0), 0.0);
    // Equal logits: mean σ(b) = 0.25 at b = ln(1/3).
    let b = fit_intercept(&[0.0; 5], 0.25);
    assert!((b - (1.0f64 / 3.0).ln()).abs() < 1e-9, "{b}");
    let logits = [-2.0, 0.5, 3.0];
    let b = fit_intercept(&logits, 0.6);
    let mean = logits.iter().map(|&l| sigmoid(l + b)).sum::<f64>() / 3.0;
    assert!((mean - 0.6).abs() < 1e-12);
}

#[test]
fn quantile_interpolates_linearly() {
    let s = [1.0, 2.0, 3.0, 4.0];
    assert_eq!(quantile_of_sorted(&s, 0.75), 3.25);
    assert_eq!(quantile_of_sorted(&s, 0.0), 1.0);
    assert_eq!(quantile_of_sorted(&s, 1.0), 4.0);
    assert_eq!(quantile_of_sorted(&[7.0], 0.3), 7.0);
    assert_eq!(column_count(0.3, 10), 3);
    assert_eq!(column_count(0.0, 10), 1);
    assert_eq!(column_count(1.0, 10), 10);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    #[test]
    fn realised_rate_is_close_to_target(
        seed in any::<u64>(),
        m in 0..ALL.len(),
        rate in prop::sample::select(vec![0.1, 0.3, 0.5]),
        exact in any::<bool>(),
    ) {
        let values = gaussian(seed);
        let observed = vec![true; N * D];
        let params = AmputationParams { exact_mcar: exact, ..reachable_params(ALL[m]) };
        let a = run(&values, &observed, ALL[m], rate, &params, seed ^ 1).unwrap();
        let removed = a.mask_missing.iter().filter(|&&x| x).count();
        prop_assert!((a.realized_rate - removed as f64 / (N * D) as f64).abs() < 1e-12);
        prop_assert!((a.realized_rate - rate).abs() < 0.02,
            "{}: {} vs {}", ALL[m], a.realized_rate, rate);
    }

    #[test]
    fn same_seed_same_mask(seed in any::<u64>(), m in 0..ALL.len()) {
        let values = gaussian(seed);
        let observed = vec![true; N * D];
        let params = reachable_params(ALL[m]);
        let a = run(&values, &observed, ALL[m], 0.3, &params, seed).unwrap();
        let b = run(&values, &observed, ALL[m], 0.3, &params, seed).unwrap();
        let c = run(&values, &observed, ALL[m], 0.3, &params, seed.wrapping_add(1)).unwrap();
        prop_assert_eq!(&a, &b);
        prop_assert_ne!(a.mask_missing, c.mask_missing);
    }
}

/// The always-observed columns of a MAR amputation: those it removed nothing from.
fn untouched_columns(a: &Amputation) -> Vec<usize> {
    (0..D).filter(|&j| a.per_column_rate[j] == 0.0).collect()
}

#[test]
fn mar_keeps_its_columns_and_rescales_the_rest() {
    let values = gaussian(3);
    let observed = vec![true; N * D];
    let a = run(
        &values,
        &observed,
        Mechanism::Mar,
        0.3,
        &AmputationParams::default(),
        4,
    )
    .unwrap();
    let kept = untouched_columns(&a);
    assert_eq!(kept.len(), 3, "d_obs = floor(0.3 * 10)");
    // The other 7 columns carry the whole rate: 0.3 * 10 / 7 each.
    for j in (0..D).filter(|j| !kept.contains(j)) {
        assert!(
            (a.per_column_rate[j] - 0.3 * 10.0 / 7.0).abs() < 0.04,
            "column {j}"
        );
    }
}

#[test]
fn mar_mask_depends_only_on_the_observed_columns() {
    let values = gaussian(5);
    let observed = vec![true; N * D];
    let params = AmputationParams::default();
    let a = run(&values, &observed, Mechanism::Mar, 0.3, &params, 6).unwrap();
    let kept = untouched_columns(&a);
    // Replace every masked column's values by fresh ones; keep the observed columns.
    let fresh = gaussian(99);
    let mut changed = values.clone();
    for k in 0..N * D {
        if !kept.contains(&(k % D)) {
            changed[k] = fresh[k];
        }
    }
    assert_ne!(changed, values);
    let b = run(&changed, &observed, Mechanism::Mar, 0.3, &params, 6).unwrap();
    assert_eq!(a.mask_missing, b.mask_missing);
    // Self-masking, by contrast, follows the values it removes.
    let s = |v: &[f32]| run(v, &observed, Mechanism::MnarSelfLogistic, 0.3, &params, 6);
    assert_ne!(
        s(&values).unwrap().mask_missing,
        s(&changed).unwrap().mask_missing
    );
}

#[test]
fn self_masking_removes_larger_values_than_mcar() {
    let values = gaussian(7);
    let observed = vec![true; N * D];
    let params = AmputationParams::default();
    let mnar = run(
        &values,
        &observed,
        Mechanism::MnarSelfLogistic,
        0.3,
        &params,
        8,
    )
    .unwrap();
    let mcar = run(&values, &observed, Mechanism::Mcar, 0.3, &params, 8).unwrap();
    for j in 0..D {
        assert!((mnar.per_column_rate[j] - 0.3).abs() < 0.04, "column {j}");
    }
    let (m, c) = (
        mean_removed(&values, &mnar.mask_missing),
        mean_removed(&values, &mcar.mask_missing),
    );
    // Columns have std 1..10 (mean 5.5); a unit logit slope shifts removed values by a
    // sizeable fraction of a std.
    assert!(m > c + 1.0, "self-masked mean {m}, MCAR mean {c}");
}

#[test]
fn quantile_cut_removes_only_beyond_the_quantile() {
    let values = gaussian(9);
    let observed = vec![true; N * D];
    for cut in [Cut::Upper, Cut::Lower] {
        let params = AmputationParams {
            cut,
            ..reachable_params(Mechanism::MnarQuantile)
        };
        let a = run(
            &values,
            &observed,
            Mechanism::MnarQuantile,
            0.2,
            &params,
            10,
        )
        .unwrap();
        for j in 0..D {
            let mut col: Vec<f64> = (0..N).map(|i| f64::from(values[i * D + j])).collect();
            col.sort_by(f64::total_cmp);
            let (hi, lo) = (quantile_of_sorted(&col, 0.4), quantile_of_sorted(&col, 0.6));
            for i in (0..N).filter(|&i| a.mask_missing[i * D + j]) {
                let v = f64::from(values[i * D + j]);
                match cut {
                    Cut::Upper => assert!(v > hi, "{v} <= {hi}"),
                    _ => assert!(v < lo, "{v} >= {lo}"),
                }
            }
        }
    }
}

#[test]
fn mnar_logistic_masks_inputs_mcar_at_the_same_rate() {
    let values = gaussian(11);
    let observed = vec![true; N * D];
    for m in [Mechanism::Mnar, Mechanism::MnarLogistic] {
        let a = run(&values, &observed, m, 0.3, &AmputationParams::default(), 12).unwrap();
        for (j, r) in a.per_column_rate.iter().enumerate() {
            assert!((r - 0.3).abs() < 0.04, "{m} column {j}: {r}");
        }
    }
}

#[test]
fn unreachable_rates_are_errors_naming_the_field() {
    let values = gaussian(13);
    let observed = vec![true; N * D];
    let params = AmputationParams::default();
    let err = run(&values, &observed, Mechanism::Mar, 0.9, &params, 1).unwrap_err();
    assert_eq!(
        err.to_string(),
        "missing_rate 0.9 is unreachable for mar: at most 0.7 of the cells may be masked"
    );
    // Default quantile: 3 columns x their top quarter = 7.5 % of the cells.
    let err = run(&values, &observed, Mechanism::MnarQuantile, 0.1, &params, 1).unwrap_err();
    assert!(matches!(err, AmputationError::Unreachable { max, .. } if (max - 0.075).abs() < 1e-3));
    let all_inputs = AmputationParams {
        p_params: 1.0,
        ..params.clone()
    };
    let err = run(&values, &observed, Mechanism::Mnar, 0.1, &all_inputs, 1).unwrap_err();
    assert!(err.to_string().starts_with("mnar: p_params 1"), "{err}");
    for rate in [1.0, -0.1, f64::NAN] {
        let err = run(&values, &observed, Mechanism::Mcar, rate, &params, 1).unwrap_err();
        assert!(err
            .to_string()
            .starts_with("missing_rate must lie in [0, 1)"));
    }
}

#[test]
fn zero_rate_and_none_remove_nothing() {
    let values = gaussian(15);
    let observed = vec![true; N * D];
    let params = AmputationParams::default();
    for m in ALL.into_iter().chain([Mechanism::None]) {
        let a = run(&values, &observed, m, 0.0, &params, 1).unwrap();
        assert!(a.mask_missing.iter().all(|&x| !x), "{m}");
        assert_eq!(a.realized_rate, 0.0);
        assert_eq!(a.per_column_rate, vec![0.0; D]);
    }
    let a = run(&values, &observed, Mechanism::None, 0.5, &params, 1).unwrap();
    assert_eq!(a.realized_rate, 0.0);
}

#[test]
fn exact_mcar_removes_exactly_the_rounded_count() {
    let values = gaussian(17);
    let observed = vec![true; N * D];
    let params = AmputationParams {
        exact_mcar: true,
        ..AmputationParams::default()
    };
    let a = run(&values, &observed, Mechanism::Mcar, 0.123_45, &params, 2).unwrap();
    let removed = a.mask_missing.iter().filter(|&&x| x).count();
    assert_eq!(removed, 2469); // round(0.12345 * 20000) = round(2469.0)
}

/// `columns`: only the named columns lose values, the rate is still the share of all
/// cells (so each named column loses `rate d / |columns|` of its cells), for Bernoulli
/// MCAR, exact MCAR and self-masking; a setup fitted with them keeps them on another
/// table; a rate beyond what the columns hold is unreachable.
#[test]
fn named_columns_alone_lose_values_at_the_rate_of_all_cells() {
    let values = gaussian(31);
    let mut observed = vec![true; N * D];
    // Column 2 already misses a tenth of its cells: they stay missing, uncounted.
    for i in (0..N).step_by(10) {
        observed[i * D + 2] = false;
    }
    let only = vec![2, 5, 7];
    let params = AmputationParams {
        columns: Some(only.clone()),
        ..AmputationParams::default()
    };
    let exact = AmputationParams {
        exact_mcar: true,
        ..params.clone()
    };
    let rate = 0.06; // 0.2 of each named column
    for (m, p) in [
        (Mechanism::Mcar, &params),
        (Mechanism::Mcar, &exact),
        (Mechanism::MnarSelfLogistic, &params),
    ] {
        let a = run(&values, &observed, m, rate, p, 4).unwrap();
        assert_eq!(touched_columns(&a), only, "{m} exact={}", p.exact_mcar);
        assert!(
            (a.realized_rate - rate).abs() < 0.01,
            "{m}: {}",
            a.realized_rate
        );
        for &j in &only {
            let r = a.per_column_rate[j];
            assert!((r - 0.2).abs() < 0.04, "{m}: column {j} lost {r}");
        }
        assert!(a.mask_missing.iter().zip(&observed).all(|(&m, &o)| !m || o));
    }
    // Exact MCAR: exactly round(rate * cells) cells, all in the named columns.
    let a = run(&values, &observed, Mechanism::Mcar, rate, &exact, 5).unwrap();
    assert_eq!(a.mask_missing.iter().filter(|&&x| x).count(), 1200);
    // Fitted on the first half of the rows, drawn on the second: the same columns.
    let half = N / 2 * D;
    let mut rng = ChaCha8Rng::seed_from_u64(6);
    let setup = MissingnessSetup::fit(
        Cells::new(&values[..half], &observed[..half], N / 2, D),
        Mechanism::MnarSelfLogistic,
        rate,
        &params,
        &mut rng,
    )
    .unwrap();
    let other = setup
        .draw(
            Cells::new(&values[half..], &observed[half..], N / 2, D),
            &mut rng,
        )
        .unwrap();
    assert_eq!(
        (0..D)
            .filter(|&j| other.per_column_rate[j] > 0.0)
            .collect::<Vec<_>>(),
        only
    );
    // Three columns of ten hold 30% of the cells, minus column 2's missing tenth.
    let err = run(&values, &observed, Mechanism::Mcar, 0.3, &params, 4).unwrap_err();
    assert!(
        matches!(err, AmputationError::Unreachable { max, .. } if (max - 0.29).abs() < 1e-9),
        "{err}"
    );
    let err = run(
        &values,
        &observed,
        Mechanism::MnarSelfLogistic,
        0.3,
        &params,
        4,
    );
    assert!(matches!(err, Err(AmputationError::Unreachable { .. })));
}

#[test]
fn bad_column_lists_and_mechanisms_that_choose_their_columns_are_refused() {
    let values = gaussian(32);
    let observed = vec![true; N * D];
    let with = |columns: Vec<usize>| AmputationParams {
        columns: Some(columns),
        ..AmputationParams::default()
    };
    let message = |m, columns| {
        run(&values, &observed, m, 0.01, &with(columns), 1)
            .unwrap_err()
            .to_string()
    };
    assert_eq!(
        message(Mechanism::Mcar, vec![]),
        "columns: the list is empty"
    );
    assert_eq!(
        message(Mechanism::Mcar, vec![3, 10]),
        "columns: column 10 is not among the table's 10"
    );
    assert_eq!(
        message(Mechanism::Mcar, vec![3, 3]),
        "columns: must be sorted and distinct, got 3 before 3"
    );
    for m in [
        Mechanism::Mar,
        Mechanism::Mnar,
        Mechanism::MnarLogistic,
        Mechanism::MnarQuantile,
    ] {
        assert!(
            message(m, vec![1]).contains("chooses its own columns"),
            "{m}"
        );
    }
    // Checked even at rate 0, so a config error shows on its first run.
    let err = run(&values, &observed, Mechanism::Mar, 0.0, &with(vec![1]), 1);
    assert!(matches!(err, Err(AmputationError::BadColumns { .. })));
}

#[test]
fn cells_missing_already_stay_missing_and_are_not_counted() {
    let mut values = gaussian(19);
    let mut rng = ChaCha8Rng::seed_from_u64(20);
    let observed: Vec<bool> = (0..N * D).map(|_| rng.random::<f64>() >= 0.1).collect();
    for (v, &o) in values.iter_mut().zip(&observed) {
        if !o {
            *v = 0.0;
        }
    }
    for m in ALL {
        let a = run(&values, &observed, m, 0.3, &reachable_params(m), 21).unwrap();
        assert!(
            a.mask_missing.iter().zip(&observed).all(|(&r, &o)| !r || o),
            "{m}"
        );
        let removed = a.mask_missing.iter().filter(|&&x| x).count();
        assert_eq!(a.realized_rate, removed as f64 / (N * D) as f64);
        // The remaining cells make up for the missing ones.
        assert!(
            (a.realized_rate - 0.3).abs() < 0.02,
            "{m}: {}",
            a.realized_rate
        );

        let names: Vec<String> = (0..D).map(|j| format!("x{j}")).collect();
        let mut ds = Dataset::numeric(
            "t",
            names,
            vec!["a".into()],
            values.clone(),
            observed.clone(),
            vec![0; N],
        );
        apply(&mut ds, &a);
        ds.validate().unwrap();
        assert!((ds.missing_fraction() - (a.realized_rate + 0.1)).abs() < 0.01);
        let expected: Vec<bool> = observed
            .iter()
            .zip(&a.mask_missing)
            .map(|(&o, &r)| o && !r)
            .collect();
        assert_eq!(ds.observed, expected);
    }
}

#[test]
fn constant_column_gives_no_nan() {
    let mut values = gaussian(23);
    for i in 0..N {
        values[i * D] = 4.0; // column 0 constant (pitfall 3)
    }
    let observed = vec![true; N * D];
    let params = AmputationParams {
        p_obs: 0.0,
        ..AmputationParams::default()
    };
    for m in [Mechanism::MnarSelfLogistic, Mechanism::Mar, Mechanism::Mnar] {
        let a = run(&values, &observed, m, 0.2, &params, 24).unwrap();
        assert!(
            (a.realized_rate - 0.2).abs() < 0.02,
            "{m}: {}",
            a.realized_rate
        );
    }
}

#[test]
fn shape_and_value_errors() {
    let mut rng = ChaCha8Rng::seed_from_u64(0);
    let p = AmputationParams::default();
    let err = ampute(
        Cells::new(&[1.0; 5], &[true; 6], 2, 3),
        Mechanism::Mcar,
        0.1,
        &p,
        &mut rng,
    );
    assert!(matches!(err, Err(AmputationError::ShapeMismatch { .. })));
    let err = ampute(
        Cells::new(&[1.0, f32::NAN], &[true; 2], 1, 2),
        Mechanism::Mcar,
        0.1,
        &p,
        &mut rng,
    );
    assert!(matches!(
        err,
        Err(AmputationError::NonFinite { row: 0, col: 1, value }) if value.is_nan()
    ));
}
