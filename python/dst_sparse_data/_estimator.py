"""SparseMLPClassifier: the engine's truly sparse MLP behind scikit-learn's estimator API.

The estimator turns its parameters into the config a TOML file would give (one method, one
sparsity, one imputation, one seed) and hands it with the arrays to the engine, which
validates it, standardises on the observed training values, imputes (or leaves missing
inputs absent) and trains exactly as ``cargo xtask run`` does. A fit with ``random_state=s``
on a run's training rows is that run's model, bit for bit.
"""

import json
import numbers
import warnings

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.preprocessing import LabelEncoder
from sklearn.utils import check_random_state
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

from . import _engine

#: Every DST method of the engine's registry, by its TOML name (``dense`` first).
METHODS = tuple(_engine.methods())

#: The config field each estimator parameter becomes, for error messages.
_FIELDS = {
    "hidden_layer_sizes": "model.layers",
    "method": "grid.methods",
    "sparsity": "grid.sparsity",
    "max_iter": "training.epochs",
    "batch_size": "training.batch_size",
    "learning_rate_init": "training.learning_rate",
    "momentum": "training.momentum",
    "alpha": "training.weight_decay",
    "dropout": "model.dropout",
    "missing": "grid.imputation",
    "scaling": "data.scaling",
    "method_params": "methods.",
}


class DivergenceWarning(UserWarning):
    """Training stopped early because the loss or the weights became non-finite."""


class SparseMLPClassifier(ClassifierMixin, BaseEstimator):
    """A multi-layer perceptron trained sparse from scratch (SET, RigL, ...), truly sparse.

    NaN in ``X`` marks a missing value: left absent (the model multiplies only observed
    inputs) or imputed, as ``missing`` says.

    Parameters
    ----------
    hidden_layer_sizes : tuple of int, default=(100, 100, 100)
        Widths of the hidden layers (scikit-learn's ``MLPClassifier`` name).
    method : str, default="set"
        A method of :data:`METHODS`: ``dense``, ``static``, ``set``, ``rigl``, ...
    sparsity : float, default=0.9
        Fraction of zero weights in the sparse (all but the output) layers; ignored by
        ``dense``.
    max_iter : int, default=100
        Epochs (every training row once per epoch).
    batch_size : int, default=10
        Rows per SGD step (the seed paper's setting).
    learning_rate_init : float, default=1e-3
        SGD step size.
    momentum : float, default=0.9
        SGD momentum (no dampening, no Nesterov).
    alpha : float, default=0.0
        Coupled L2 weight decay.
    dropout : float, default=0.1
        Inverted dropout on the hidden activations.
    missing : str, default="absent"
        How NaN inputs are fed: ``absent``, ``zero``, ``mean``, ``median``, ``knn``,
        ``iterative``, each optionally with ``+indicator``; ``none`` refuses NaN.
    scaling : str, default="standard"
        Scaling fitted on the observed training values: ``standard``, ``minmax``, ``none``.
    random_state : int, RandomState instance or None, default=None
        The run seed: the same integer gives the numbers ``cargo xtask run`` gives for that
        seed. ``None`` draws one.
    method_params : dict or None, default=None
        The method's hyper-parameters by their TOML names (``{"zeta": 0.3}`` for SET).

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
    n_features_in_ : int
    n_iter_ : int
        Epochs trained (fewer than ``max_iter`` when training diverged).
    loss_curve_ : list of float
        Mean training loss per epoch.
    history_ : dict of ndarray
        Per epoch: ``epoch``, ``loss``, ``accuracy`` (training, as trained), ``turnover``
        (connections replaced over connections), ``density`` and ``nnz``.
    example_stats_ : dict of ndarray
        Per training row, in the order given: ``forgetting_events``, ``learning_events``,
        ``first_learned_epoch`` (-1 when never learned), ``never_learned``,
        ``unforgettable``, ``confidence``, ``variability``, ``correctness`` and ``el2n``
        (at epoch ``min(10, max_iter)``).
    input_degrees_ : ndarray of shape (n_inputs,)
        Connections of each model input into the first hidden layer after training.
    """

    def __init__(
        self,
        hidden_layer_sizes=(100, 100, 100),
        method="set",
        sparsity=0.9,
        max_iter=100,
        batch_size=10,
        learning_rate_init=1e-3,
        momentum=0.9,
        alpha=0.0,
        dropout=0.1,
        missing="absent",
        scaling="standard",
        random_state=None,
        method_params=None,
    ):
        self.hidden_layer_sizes = hidden_layer_sizes
        self.method = method
        self.sparsity = sparsity
        self.max_iter = max_iter
        self.batch_size = batch_size
        self.learning_rate_init = learning_rate_init
        self.momentum = momentum
        self.alpha = alpha
        self.dropout = dropout
        self.missing = missing
        self.scaling = scaling
        self.random_state = random_state
        self.method_params = method_params

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        return tags

    def fit(self, X, y):
        """Trains a new model on ``X`` (NaN = missing) and ``y``."""
        X, y = validate_data(
            self, X, y, ensure_all_finite="allow-nan", dtype=np.float64, order="C"
        )
        check_classification_targets(y)
        encoder = LabelEncoder().fit(y)
        if len(encoder.classes_) < 2:
            raise ValueError(
                "SparseMLPClassifier needs samples of at least 2 classes in the data, "
                f"got 1 class: {encoder.classes_[0]!r}"
            )
        labels = encoder.transform(y).astype(np.uint32)
        config = self._config(X.shape[1], len(encoder.classes_))
        try:
            model = _engine.fit(
                json.dumps(config),
                X,
                X.shape[0],
                X.shape[1],
                labels.tolist(),
                len(encoder.classes_),
            )
        except ValueError as e:
            raise ValueError(self._explain(str(e))) from None
        self.classes_ = encoder.classes_
        self._model = model
        history = model.history()
        self.history_ = {k: np.asarray(v) for k, v in history.items()}
        self.n_iter_ = len(history["epoch"])
        self.loss_curve_ = list(history["loss"])
        stats = model.example_stats()
        self.example_stats_ = {
            k: np.asarray(v, dtype=bool if k in ("never_learned", "unforgettable") else None)
            for k, v in stats.items()
        }
        for k in ("forgetting_events", "learning_events", "first_learned_epoch"):
            self.example_stats_[k] = self.example_stats_[k].astype(np.int64)
        self.input_degrees_ = np.asarray(model.input_degrees(), dtype=np.int64)
        diverged = model.diverged_epoch()
        if diverged is not None:
            warnings.warn(
                f"training diverged in epoch {diverged} of {self.max_iter} (non-finite "
                "outputs or weights) and stopped there; lower learning_rate_init",
                DivergenceWarning,
                stacklevel=2,
            )
        return self

    def predict_proba(self, X):
        """Class probabilities of each row of ``X`` (NaN = missing), in evaluation mode."""
        check_is_fitted(self)
        X = validate_data(
            self, X, reset=False, ensure_all_finite="allow-nan", dtype=np.float64, order="C"
        )
        raw = self._model.predict_proba(X, X.shape[0], X.shape[1])
        probs = np.frombuffer(raw, dtype="<f4").reshape(X.shape[0], len(self.classes_))
        return probs.astype(np.float64)

    def predict_log_proba(self, X):
        """Logarithms of :meth:`predict_proba`."""
        with np.errstate(divide="ignore"):
            return np.log(self.predict_proba(X))

    def predict(self, X):
        """The most probable class of each row of ``X`` (ties: the first class)."""
        probs = self.predict_proba(X)
        return self.classes_[np.argmax(probs, axis=1)]

    def _seed(self):
        """The run seed: ``random_state`` itself when an integer."""
        rs = self.random_state
        if isinstance(rs, numbers.Integral) and not isinstance(rs, bool):
            if rs < 0:
                raise ValueError(f"random_state={rs}: a seed must be >= 0")
            return int(rs)
        return int(check_random_state(rs).randint(0, 2**31 - 1))

    def _config(self, n_features, n_classes):
        """The TOML config of this estimator's run, as a dict."""
        hidden = self.hidden_layer_sizes
        if isinstance(hidden, numbers.Integral):
            hidden = [hidden]
        layers = [n_features, *(_integer("hidden_layer_sizes", h) for h in hidden), n_classes]
        if not isinstance(self.method, str):
            raise ValueError(f"method={self.method!r} must be a method name, one of {METHODS}")
        max_iter = _integer("max_iter", self.max_iter)
        config = {
            "name": "python",
            "data": {"dataset": "arrays", "scaling": _string("scaling", self.scaling)},
            "model": {"layers": layers, "dropout": _number("dropout", self.dropout)},
            "training": {
                "epochs": max_iter,
                "batch_size": _integer("batch_size", self.batch_size),
                "learning_rate": _number("learning_rate_init", self.learning_rate_init),
                "momentum": _number("momentum", self.momentum),
                "weight_decay": _number("alpha", self.alpha),
            },
            "grid": {
                "methods": [self.method],
                "sparsity": [_number("sparsity", self.sparsity)],
                "seeds": [self._seed()],
                "imputation": [_string("missing", self.missing)],
            },
            "tracking": {"examples": True, "el2n_epochs": [max(1, min(10, max_iter))]},
        }
        if self.method_params:
            if not isinstance(self.method_params, dict):
                raise ValueError(f"method_params={self.method_params!r} must be a dict")
            config["methods"] = {self.method: dict(self.method_params)}
        return config

    def _explain(self, message):
        """The engine's message, prefixed with the estimator parameter it is about."""
        for param, field in _FIELDS.items():
            if message.startswith(field):
                return f"{param}={getattr(self, param)!r}: {message}"
        return message


def _integer(name, value):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 0:
        raise ValueError(f"{name}={value!r} must be a non-negative integer")
    return int(value)


def _number(name, value):
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(f"{name}={value!r} must be a number")
    return float(value)


def _string(name, value):
    if not isinstance(value, str):
        raise ValueError(f"{name}={value!r} must be a string")
    return value
