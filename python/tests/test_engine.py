"""The estimator gives the numbers of `cargo xtask run` for the same data, model and seed."""

import numpy as np
import pytest

from dst_sparse_data import SparseMLPClassifier, read_table, run_experiment

CONFIG = """
name = "python-equality"
[data]
dataset = "wdbc"
[model]
layers = [30, 20, 20, 2]
dropout = 0.1
[training]
epochs = 6
batch_size = 10
learning_rate = 0.01
momentum = 0.9
[grid]
methods = ["{method}"]
sparsity = [0.8]
seeds = [3]
[tracking]
predictions = true
"""


@pytest.mark.parametrize("method", ["set", "dense", "rigl"])
def test_fit_on_a_runs_training_rows_gives_the_runs_predictions(tmp_path, wdbc, method):
    config = tmp_path / "run.toml"
    config.write_text(CONFIG.format(method=method))
    tables = run_experiment(config, out=tmp_path / "out", frames="dict")
    predictions, runs = tables["predictions"], tables["runs"]
    X, y = wdbc
    test = predictions["example_id"].astype(int)
    # The split's rows in file order, as the engine keeps them.
    train = np.setdiff1d(np.arange(len(y)), test)
    clf = SparseMLPClassifier(
        hidden_layer_sizes=(20, 20), method=method, sparsity=0.8, max_iter=6,
        batch_size=10, learning_rate_init=0.01, momentum=0.9, dropout=0.1,
        missing="none", random_state=3,
    ).fit(X[train], y[train])
    proba = clf.predict_proba(X[test])
    label = predictions["label"].astype(int)
    assert np.array_equal(proba[np.arange(len(test)), label], predictions["p_true"])
    assert np.array_equal(np.argmax(proba, axis=1), predictions["predicted"].astype(int))
    assert clf.score(X[test], y[test]) == runs["test_accuracy"][0]
    epochs = tables["epochs"]
    assert np.array_equal(clf.history_["loss"], epochs["train_loss"])


def test_run_experiment_returns_every_table(tmp_path):
    config = tmp_path / "run.toml"
    config.write_text(CONFIG.format(method="static"))
    tables = run_experiment(config, out=tmp_path / "out", frames="dict")
    assert {"runs", "summary", "epochs", "examples"} <= set(tables)
    assert tables["runs"]["method"][0] == "static"
    again = read_table(f"{tables['dir']}/runs.csv", frames="dict")
    assert np.array_equal(again["test_accuracy"], tables["runs"]["test_accuracy"])


def test_run_experiment_bad_config_is_a_value_error(tmp_path):
    config = tmp_path / "bad.toml"
    config.write_text(CONFIG.format(method="set").replace("dropout = 0.1", "dropout = 2.0"))
    with pytest.raises(ValueError, match="dropout"):
        run_experiment(config, out=tmp_path / "out")
