"""The estimator contract, NaN inputs, every method, bad parameters, per-example statistics."""

import pickle
import threading
import time

import numpy as np
import pytest
from sklearn.model_selection import GridSearchCV, cross_val_score
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer
from sklearn.utils.estimator_checks import parametrize_with_checks

from dst_sparse_data import METHODS, SparseMLPClassifier

# scikit-learn's estimator checks that do not hold, each with its reason (at most five): none.
EXPECTED_FAILED_CHECKS = {}


def small(**params):
    """Fast settings for the checks: two hidden layers of 32, 30 epochs."""
    defaults = dict(hidden_layer_sizes=(32, 32), max_iter=30, learning_rate_init=0.01)
    defaults.update(params)
    return SparseMLPClassifier(**defaults)


# Half sparse: the checks' two-feature problems at 90% sparsity leave a 2 x 32 input layer
# about 6 connections, too few for the accuracy check_classifiers_train asks for.
@parametrize_with_checks(
    [small(sparsity=0.5), small(method="dense", missing="mean")],
    expected_failed_checks=lambda est: EXPECTED_FAILED_CHECKS,
)
def test_scikit_learn_estimator_checks(estimator, check):
    check(estimator)


def with_missing(X, rate, seed):
    """A copy of X with a fraction ``rate`` of its cells set to NaN (MCAR)."""
    rng = np.random.default_rng(seed)
    X = X.copy()
    X[rng.random(X.shape) < rate] = np.nan
    return X


@pytest.mark.parametrize("missing", ["absent", "mean", "zero+indicator", "median"])
def test_nan_is_missing(wdbc, missing):
    X, y = wdbc
    X = with_missing(X, 0.5, seed=1)
    clf = small(missing=missing, random_state=0).fit(X[::2], y[::2])
    assert clf.score(X[1::2], y[1::2]) > 0.85
    # Indicators widen the input layer by one input per column with a missing value.
    width = 60 if missing.endswith("+indicator") else 30
    assert clf.input_degrees_.shape == (width,)


def test_nan_refused_without_an_imputation(wdbc):
    X, y = wdbc
    with pytest.raises(ValueError, match="imputation"):
        small(missing="none").fit(with_missing(X, 0.1, seed=2), y)


@pytest.mark.parametrize("method", METHODS)
def test_every_method_by_its_toml_name(digits, method):
    X, y = digits
    clf = small(method=method, sparsity=0.8, max_iter=3, random_state=1).fit(X[:600], y[:600])
    assert clf.predict(X[600:700]).shape == (100,)
    assert set(clf.classes_) == set(y)
    assert clf.n_iter_ == 3


def test_methods_include_the_papers():
    assert {"dense", "static", "set", "rigl"} <= set(METHODS)


@pytest.mark.parametrize(
    "params, words",
    [
        (dict(sparsity=1.5), ["sparsity=1.5", "grid.sparsity"]),
        (dict(method="nope"), ["method='nope'", "unknown method", "set"]),
        (dict(method_params={"zeta": 2.0}), ["zeta"]),
        (dict(method_params={"no_such": 1}), ["no_such"]),
        (dict(dropout=1.0), ["dropout=1.0", "model.dropout"]),
        (dict(learning_rate_init=-1.0), ["learning_rate_init", "training.learning_rate"]),
        (dict(missing="sometimes"), ["sometimes"]),
        (dict(max_iter=0), ["max_iter", "training.epochs"]),
        (dict(hidden_layer_sizes=(10, "x")), ["hidden_layer_sizes"]),
        (dict(random_state=-3), ["random_state"]),
    ],
)
def test_bad_parameters_raise_value_error_naming_them(wdbc, params, words):
    X, y = wdbc
    with pytest.raises(ValueError) as e:
        small(**params).fit(X, y)
    for w in words:
        assert w in str(e.value), (w, str(e.value))


def test_per_example_statistics(wdbc):
    X, y = wdbc
    clf = small(max_iter=12, random_state=4).fit(X, y)
    s = clf.example_stats_
    n = len(y)
    for key in ["forgetting_events", "learning_events", "first_learned_epoch", "never_learned",
                "unforgettable", "confidence", "variability", "correctness", "el2n"]:
        assert s[key].shape == (n,), key
    assert (s["forgetting_events"] >= 0).all()
    assert ((s["first_learned_epoch"] == -1) == s["never_learned"]).all()
    assert ((s["first_learned_epoch"] >= -1) & (s["first_learned_epoch"] <= 12)).all()
    assert np.isfinite(s["el2n"]).all() and (s["el2n"] >= 0).all()
    # Most rows of WDBC are learned quickly and never forgotten.
    assert s["unforgettable"].mean() > 0.5


def test_history_per_epoch(wdbc):
    X, y = wdbc
    set_ = small(max_iter=5, sparsity=0.9, random_state=2).fit(X, y)
    h = set_.history_
    assert list(h["epoch"]) == [1, 2, 3, 4, 5]
    assert set_.loss_curve_ == list(h["loss"])
    # 90% sparse hidden layers (30x32, 32x32) and the dense 32x2 output.
    dense = 30 * 32 + 32 * 32 + 32 * 2
    assert np.allclose(h["density"], (0.1 * (30 * 32 + 32 * 32) + 64) / dense, atol=0.01)
    assert (h["turnover"][:4] > 0).all() and h["turnover"][4] == 0
    static = small(max_iter=5, method="static", random_state=2).fit(X, y)
    assert (static.history_["turnover"] == 0).all()


def test_same_seed_same_model_and_different_seeds_differ(wdbc):
    X, y = wdbc
    a = small(max_iter=3, random_state=5).fit(X, y).predict_proba(X)
    b = small(max_iter=3, random_state=5).fit(X, y).predict_proba(X)
    c = small(max_iter=3, random_state=6).fit(X, y).predict_proba(X)
    assert np.array_equal(a, b)
    assert not np.array_equal(a, c)


def test_pipeline_cross_validation_and_grid_search(wdbc):
    X, y = wdbc
    X = with_missing(X, 0.3, seed=3)
    pipe = Pipeline([("log", FunctionTransformer(np.log1p)), ("clf", small(max_iter=10))])
    scores = cross_val_score(pipe, X, y, cv=3)
    assert scores.shape == (3,) and (scores > 0.8).all()
    search = GridSearchCV(small(max_iter=5), {"method": ["static", "set"]}, cv=2)
    search.fit(X, y)
    assert search.best_params_["method"] in ("static", "set")


def test_pickled_model_predicts_the_same(wdbc):
    X, y = wdbc
    X = with_missing(X, 0.2, seed=5)
    clf = small(max_iter=4, method="rigl", missing="absent", random_state=0).fit(X, y)
    again = pickle.loads(pickle.dumps(clf))
    assert np.array_equal(clf.predict_proba(X), again.predict_proba(X))
    assert np.array_equal(clf.example_stats_["el2n"], again.example_stats_["el2n"])


def test_labels_of_any_type(wdbc):
    X, y = wdbc
    numeric = np.where(y == "malignant", 7, -1)
    clf = small(max_iter=5, random_state=0).fit(X, numeric)
    assert set(clf.predict(X)) <= {7, -1}
    assert clf.predict(X).dtype == numeric.dtype


def test_training_releases_the_gil(digits):
    X, y = digits
    clf = SparseMLPClassifier(hidden_layer_sizes=(300, 300), max_iter=40, random_state=0)
    done = threading.Event()

    def fit():
        clf.fit(X, y)
        done.set()

    worker = threading.Thread(target=fit)
    worker.start()
    ticks = 0
    start = time.perf_counter()
    while not done.is_set():
        ticks += 1
        time.sleep(0.001)
    worker.join()
    elapsed = time.perf_counter() - start
    # With the GIL held for the whole fit, this thread would wake once or twice; released,
    # it wakes every millisecond or so.
    assert elapsed > 0.2, f"the fit ({elapsed:.2f} s) was too short to tell"
    assert ticks > elapsed * 100, (ticks, elapsed)
