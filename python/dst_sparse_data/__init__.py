"""Truly sparse dynamic sparse training (SET, RigL, ...) with missing data, as scikit-learn
estimators: NaN in, forgetting statistics out.

The models are this repository's Rust engine (``crates/``); the estimator runs the same
pipeline as ``cargo xtask run``, so its numbers for a seed are the engine's.
"""

from ._engine import __version__
from ._estimator import METHODS, DivergenceWarning, SparseMLPClassifier
from ._experiment import read_table, run_experiment

__all__ = [
    "METHODS",
    "DivergenceWarning",
    "SparseMLPClassifier",
    "__version__",
    "read_table",
    "run_experiment",
]
