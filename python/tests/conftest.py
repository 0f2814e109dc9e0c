"""Shared data: the repository's bundled WDBC and digits, read with the csv module."""

import csv
from pathlib import Path

import numpy as np
import pytest

DATASETS = Path(__file__).resolve().parents[2] / "datasets"


def load(name, label):
    """Features (float64) and labels (strings) of a bundled dataset, in file order."""
    with open(DATASETS / f"{name}.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    features = [c for c in rows[0] if c != label]
    X = np.array([[float(r[c]) for c in features] for r in rows])
    y = np.array([r[label] for r in rows])
    return X, y


@pytest.fixture(scope="session")
def wdbc():
    return load("wdbc", "diagnosis")


@pytest.fixture(scope="session")
def digits():
    return load("digits", "digit")
