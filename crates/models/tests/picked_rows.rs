//! A batch read in place from the data set's rows ([`Batch::picked`]) trains exactly as the
//! same rows copied into a batch of their own, in the sparse MLP and in the burn dense MLP.

mod common;

use common::{sparse_mlp, toy_data};
use dst_set::StaticSparse;
use models::rngs::stream;
use models::{Batch, Classifier, DenseMlp, RunRngs, SgdParams};
use sparse_core::TrainingClock;

/// Wide enough for whole 16 x 16 transpose tiles and an edge (40 features, 35 examples).
const SIZES: [usize; 4] = [40, 24, 16, 3];
const ROWS: usize = 200;

fn clock(step: usize) -> TrainingClock {
    TrainingClock {
        epoch: 0,
        epochs: 1,
        step,
        steps_per_epoch: 3,
    }
}

/// Scattered batch rows, one repeated: what a shuffled epoch with an extra row looks like.
fn picks(step: usize) -> Vec<usize> {
    let mut ids: Vec<usize> = (0..34).map(|b| (37 * b + 11 * step + 5) % ROWS).collect();
    ids.push(ids[3]);
    ids
}

fn copied(x: &[f32], ids: &[usize]) -> Vec<f32> {
    let d = SIZES[0];
    ids.iter()
        .flat_map(|&r| &x[r * d..(r + 1) * d])
        .copied()
        .collect()
}

#[test]
fn the_sparse_mlp_trains_alike_on_picked_and_copied_rows() {
    let (x, y) = toy_data(ROWS, SIZES[0], 3, 4);
    let sgd = SgdParams::default();
    let mut a = sparse_mlp(&SIZES, &[0.4, 0.5, 1.0], 0.2, sgd, 9);
    let mut b = sparse_mlp(&SIZES, &[0.4, 0.5, 1.0], 0.2, sgd, 9);
    let (mut da, mut ta) = (stream(1, "dropout"), stream(1, "topology"));
    let (mut db, mut tb) = (stream(1, "dropout"), stream(1, "topology"));
    for step in 0..3 {
        let ids = picks(step);
        let labels: Vec<u32> = ids.iter().map(|&r| y[r]).collect();
        let rows = copied(&x, &ids);
        let picked = Batch::picked(&x, &ids);
        let own = Batch::dense(&rows, ids.len());
        let ra = a.train_step(
            &picked,
            &labels,
            &mut StaticSparse,
            clock(step),
            &mut da,
            &mut ta,
        );
        let rb = b.train_step(
            &own,
            &labels,
            &mut StaticSparse,
            clock(step),
            &mut db,
            &mut tb,
        );
        assert_eq!(ra.probs, rb.probs, "step {step}");
        assert_eq!(a.to_json().unwrap(), b.to_json().unwrap(), "step {step}");
        assert_eq!(a.predict_proba(&picked), b.predict_proba(&own));
    }
}

#[test]
fn the_dense_mlp_reads_picked_rows_as_its_own() {
    let (x, y) = toy_data(ROWS, SIZES[0], 3, 4);
    let mlp = sparse_mlp(&SIZES, &[1.0, 1.0, 1.0], 0.0, SgdParams::default(), 2);
    let dense = || DenseMlp::from_params(&mlp.to_dense_params(), 0.1, SgdParams::default());
    let (mut a, mut b) = (dense(), dense());
    let ids = picks(0);
    let labels: Vec<u32> = ids.iter().map(|&r| y[r]).collect();
    let rows = copied(&x, &ids);
    let picked = Batch::picked(&x, &ids);
    let own = Batch::dense(&rows, ids.len());
    let (mut ra, mut rb) = (RunRngs::from_seed(3), RunRngs::from_seed(3));
    let sa = Classifier::train_step(&mut a, &picked, &labels, clock(0), &mut ra, None);
    let sb = Classifier::train_step(&mut b, &own, &labels, clock(0), &mut rb, None);
    assert_eq!(sa.probs, sb.probs);
    assert_eq!(
        Classifier::predict_proba(&mut a, &picked),
        Classifier::predict_proba(&mut b, &own)
    );
}
