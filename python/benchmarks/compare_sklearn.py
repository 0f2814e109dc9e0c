"""Our estimator (dense, and SET at 90% sparsity) against scikit-learn's MLPClassifier with the
same SGD settings, on WDBC and digits: test accuracy with 95% CIs over seeds, and fit time.

    python python/benchmarks/compare_sklearn.py [--seeds 5] [--write-readme]

Every model gets the same split per seed (stratified 80/20), the same architecture, solver
(SGD, momentum 0.9 without Nesterov, no weight decay), learning rate, batch size and number of
epochs, and no dropout (MLPClassifier has none). Ours standardises on the training rows inside
``fit``; MLPClassifier gets a StandardScaler in a Pipeline. MLPClassifier's early stopping on
a training-loss plateau is switched off (``n_iter_no_change=epochs``), so both train every
epoch. Differences that remain: weight init (ours He-uniform, scikit-learn's Glorot-uniform)
and the sparse model's evolving topology. Writes ``sklearn_comparison.csv`` beside this script
and, with ``--write-readme``, the table between the README's markers.
"""

import argparse
import csv
import os
import platform
import subprocess
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import sklearn
from scipy import stats
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import dst_sparse_data
from dst_sparse_data import SparseMLPClassifier

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
BEGIN, END = "<!-- sklearn-comparison:begin -->", "<!-- sklearn-comparison:end -->"

# The seed paper's WDBC settings; digits as its study (experiments/studies/part1-digits.toml).
SETTINGS = {
    "wdbc": dict(label="diagnosis", hidden=(100, 100, 100), epochs=100, batch=10, lr=1e-3),
    "digits": dict(label="digit", hidden=(100, 100, 100), epochs=40, batch=32, lr=1e-2),
}


def load(name, label):
    with open(ROOT / "datasets" / f"{name}.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    features = [c for c in rows[0] if c != label]
    return np.array([[float(r[c]) for c in features] for r in rows]), np.array([r[label] for r in rows])


def models(s, seed):
    common = dict(
        hidden_layer_sizes=s["hidden"], max_iter=s["epochs"], batch_size=s["batch"],
        learning_rate_init=s["lr"], momentum=0.9, alpha=0.0, dropout=0.0,
        random_state=seed,
    )
    mlp = MLPClassifier(
        hidden_layer_sizes=s["hidden"], solver="sgd", learning_rate_init=s["lr"],
        momentum=0.9, nesterovs_momentum=False, alpha=0.0, batch_size=s["batch"],
        max_iter=s["epochs"], n_iter_no_change=s["epochs"], shuffle=True, random_state=seed,
    )
    return {
        "ours, dense": SparseMLPClassifier(method="dense", **common),
        "ours, SET 90%": SparseMLPClassifier(method="set", sparsity=0.9, **common),
        "scikit-learn MLPClassifier": make_pipeline(StandardScaler(), mlp),
    }


def ci95(values):
    values = np.asarray(values)
    if len(values) < 2:
        return float("nan")
    return float(stats.t.ppf(0.975, len(values) - 1) * values.std(ddof=1) / np.sqrt(len(values)))


def commit():
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT,
                              capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def cpu():
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--write-readme", action="store_true")
    args = parser.parse_args()
    rows = []
    for name, s in SETTINGS.items():
        X, y = load(name, s["label"])
        for seed in range(1, args.seeds + 1):
            Xtr, Xte, ytr, yte = train_test_split(X, y, test_size=0.2, stratify=y,
                                                  random_state=seed)
            for model, est in models(s, seed).items():
                start = time.perf_counter()
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", ConvergenceWarning)
                    est.fit(Xtr, ytr)
                seconds = time.perf_counter() - start
                acc = float(est.score(Xte, yte))
                rows.append(dict(dataset=name, model=model, seed=seed, accuracy=acc,
                                 fit_seconds=seconds))
                print(f"{name:7} {model:27} seed {seed}: accuracy {acc:.4f}, fit {seconds:.2f} s",
                      file=sys.stderr)
    with open(HERE / "sklearn_comparison.csv", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    lines = [
        "| dataset | model | test accuracy (mean ± 95% CI) | fit seconds (mean) | vs scikit-learn's fit time |",
        "|---|---|---|---|---|",
    ]
    for name, s in SETTINGS.items():
        ref = np.mean([r["fit_seconds"] for r in rows
                       if r["dataset"] == name and r["model"].startswith("scikit")])
        for model in models(s, 0):
            sel = [r for r in rows if r["dataset"] == name and r["model"] == model]
            acc = [r["accuracy"] for r in sel]
            secs = np.mean([r["fit_seconds"] for r in sel])
            lines.append(f"| {name} | {model} | {np.mean(acc):.3f} ± {ci95(acc):.3f} | "
                         f"{secs:.2f} | {ref / secs:.1f}x |")
    settings = "; ".join(
        f"{n}: {'-'.join(map(str, s['hidden']))} hidden, {s['epochs']} epochs, batch {s['batch']}, "
        f"lr {s['lr']}" for n, s in SETTINGS.items())
    note = (f"{args.seeds} seeds (stratified 80/20 split per seed, the same for every model); "
            f"{settings}; SGD momentum 0.9, no dropout, no weight decay. `python "
            f"python/benchmarks/compare_sklearn.py --write-readme` at commit {commit()}, "
            f"dst_sparse_data {dst_sparse_data.__version__}, scikit-learn {sklearn.__version__}, "
            f"on {cpu()} ({os.cpu_count()} cores).")
    table = "\n".join(lines) + "\n\n" + note
    print(table)
    if args.write_readme:
        readme = ROOT / "README.md"
        text = readme.read_text()
        head, rest = text.split(BEGIN, 1)
        _, tail = rest.split(END, 1)
        readme.write_text(f"{head}{BEGIN}\n{table}\n{END}{tail}")


if __name__ == "__main__":
    main()
