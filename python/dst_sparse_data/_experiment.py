"""run_experiment: a TOML config run as ``cargo xtask run`` runs it, its tables returned."""

import csv
import os

import numpy as np

from . import _engine


def run_experiment(config, out=None, jobs=None, fresh=False, frames="auto"):
    """Runs the experiment ``config`` (a TOML file) like ``cargo xtask run CONFIG``.

    Finished runs in ``out`` are kept (resumed), unless ``fresh``. Relative dataset paths
    resolve from the config's folder; bundled names (``wdbc``, ``digits``, ...) from the
    repository's ``datasets/``.

    Parameters
    ----------
    config : str or path
        The config file.
    out : str or path, optional
        The results folder (default ``results/runs/<name>``, as ``cargo xtask run``).
    jobs : int, optional
        Runs at once (default: every core).
    fresh : bool, default=False
        Delete earlier results in ``out`` first.
    frames : {"auto", "pandas", "polars", "dict"}, default="auto"
        The type of each table: ``auto`` gives pandas DataFrames when pandas is installed,
        else polars DataFrames when polars is, else dicts of NumPy arrays.

    Returns
    -------
    dict
        Every CSV table of the results folder by file stem (``runs``, ``summary``,
        ``epochs``, ``examples``, ``paired_vs_dense``, ...), plus ``"dir"``: the folder.
    """
    folder = _engine.run_experiment(
        os.fspath(config),
        None if out is None else os.fspath(out),
        jobs,
        fresh,
    )
    folder = os.fspath(folder)
    tables = {"dir": folder}
    for name in sorted(os.listdir(folder)):
        if name.endswith(".csv"):
            tables[name[:-4]] = read_table(os.path.join(folder, name), frames)
    return tables


def read_table(path, frames="auto"):
    """One results CSV as a pandas or polars DataFrame, or a dict of NumPy arrays (numeric
    columns as float64 with NaN for empty cells, the others as strings)."""
    if frames in ("auto", "pandas"):
        try:
            import pandas

            return pandas.read_csv(path)
        except ImportError:
            if frames == "pandas":
                raise
    if frames in ("auto", "polars"):
        try:
            import polars

            return polars.read_csv(path, infer_schema_length=None)
        except ImportError:
            if frames == "polars":
                raise
    if frames not in ("auto", "pandas", "polars", "dict"):
        raise ValueError(f"frames={frames!r}: one of auto, pandas, polars, dict")
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    if not rows:
        return {}
    return {name: _column([r[name] for r in rows]) for name in rows[0]}


def _column(cells):
    try:
        return np.array([float(c) if c != "" else np.nan for c in cells])
    except ValueError:
        return np.array(cells)
