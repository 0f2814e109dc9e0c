//! End-to-end properties of continual runs: one accuracy matrix per run in `continual.csv`,
//! ACC in `runs.csv`, task-incremental scoring doing what it claims, and resume keeping the
//! matrices of finished runs only once.

use experiments::results::{read_rows, RunRow};
use experiments::{run_experiment, RunOptions};
use studies::continual::{acc, ContinualRow, CONTINUAL};

const DIGITS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../datasets/digits.csv");

fn config() -> String {
    format!(
        r#"
name = "tiny-continual"
[data]
dataset = "{DIGITS}"
split_seed = 1
[model]
layers = [64, 32, 10]
[training]
epochs = 3
batch_size = 16
learning_rate = 0.05
momentum = 0.9
[grid]
methods = ["dense", "set"]
sparsity = [0.5]
seeds = 1
[tracking]
examples = false
[continual]
tasks = [[0, 1], [2, 3], [4, 5]]
scenarios = ["class-il", "task-il"]
regimes = ["multi-epoch", "online"]
memory = ["none", "random", "forgetting"]
memory_per_task = 10
"#
    )
}

#[test]
fn every_run_writes_its_matrix_and_task_il_scores_only_the_task() {
    studies::install();
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("c.toml");
    std::fs::write(&cfg, config()).unwrap();
    let out = dir.path().join("out");
    let opts = RunOptions::quiet_into(&out, 2);
    run_experiment(&cfg, &opts).unwrap();
    let runs: Vec<RunRow> = read_rows(&out.join("runs.csv")).unwrap();
    let cells: Vec<ContinualRow> = read_rows(&out.join(CONTINUAL)).unwrap();
    assert_eq!(runs.len(), 2 * 12);
    assert_eq!(cells.len(), runs.len() * 9);
    let matrix = |run: &RunRow| {
        let mut r = vec![vec![f64::NAN; 3]; 3];
        for c in cells.iter().filter(|c| c.run_id == run.run_id) {
            r[c.after_task - 1][c.task - 1] = c.accuracy;
        }
        r
    };
    for run in &runs {
        let r = matrix(run);
        assert!(r.iter().flatten().all(|a| (0.0..=1.0).contains(a)), "{r:?}");
        assert!((run.test_accuracy - acc(&r)).abs() < 1e-12);
        let per_task = if run.variant.contains("online") { 1 } else { 3 };
        assert_eq!(run.epochs, 3 * per_task);
    }
    let by = |variant: &str, method: &str| {
        let run = runs
            .iter()
            .find(|r| r.variant == variant && r.method == method)
            .unwrap();
        matrix(run)
    };
    for method in ["dense", "set"] {
        // Task-IL picks between a task's two classes only: after its task, near perfect, and
        // not yet trained tasks are still scored among their own classes (not 0, as a class-IL
        // head that never saw them gives).
        let task_il = by("task-il/multi-epoch/none", method);
        let class_il = by("class-il/multi-epoch/none", method);
        assert!(
            acc(&task_il) > acc(&class_il) + 0.2,
            "{task_il:?} {class_il:?}"
        );
        assert!(task_il[0][2] > 0.05 && class_il[0][2] < 0.05, "{task_il:?}");
        // Fine-tuning in class-IL forgets the first task; a random memory brings some of the
        // old tasks back.
        assert!(class_il[2][0] < 0.1, "{class_il:?}");
        let random = by("class-il/multi-epoch/random", method);
        assert!(
            acc(&random) > acc(&class_il) + 0.05,
            "{random:?} {class_il:?}"
        );
    }
    // Resuming runs nothing again and leaves one matrix per run.
    run_experiment(&cfg, &opts).unwrap();
    let again: Vec<ContinualRow> = read_rows(&out.join(CONTINUAL)).unwrap();
    assert_eq!(again, cells);
}
