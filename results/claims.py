#!/usr/bin/env python3
"""Every number that results/DISCUSSION.md quotes, computed from the committed files of
results/ (standard library only): `python3 results/claims.py [RESULTS_DIR]`.

Significance follows the project's rule: paired by seed, Holm's correction over the cells a
claim covers (each block below says which), 5% level; a cell with zero variance is not
significant. Where a file holds a p-value per cell (paired_vs_dense.csv) the Holm correction
is redone over the claim's cells; where it holds only a mean and a 95% Student-t half-width
over n seeds (degree, forgetting after updates), the t statistic is recovered from them.
"""
import csv
import math
import os
import sys
from collections import defaultdict

ROOT = sys.argv[1] if len(sys.argv) > 1 else os.path.dirname(os.path.abspath(__file__))
ALPHA = 0.05


def rows(study, name):
    path = os.path.join(ROOT, study, name)
    if not os.path.exists(path):
        return None
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def num(x):
    try:
        return float(x)
    except (TypeError, ValueError):
        return math.nan


def holm(ps):
    """Holm-adjusted p-values, in the order given (NaN stays NaN and is not counted)."""
    idx = sorted((i for i, p in enumerate(ps) if not math.isnan(p)), key=lambda i: ps[i])
    m, out, run = len(idx), [math.nan] * len(ps), 0.0
    for k, i in enumerate(idx):
        run = max(run, min(1.0, (m - k) * ps[i]))
        out[i] = run
    return out


def betacf(a, b, x):
    # Continued fraction of the regularised incomplete beta (Numerical Recipes' Lentz form).
    qab, qap, qam = a + b, a + 1.0, a - 1.0
    c, d = 1.0, 1.0 - qab * x / qap
    d = 1.0 / (d if abs(d) > 1e-300 else 1e-300)
    h = d
    for m in range(1, 300):
        m2 = 2 * m
        aa = m * (b - m) * x / ((qam + m2) * (a + m2))
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) > 1e-300 else 1e-300)
        c = 1.0 + aa / c if abs(1.0 + aa / c) > 1e-300 else 1e-300
        h *= d * c
        aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2))
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) > 1e-300 else 1e-300)
        c = 1.0 + aa / c if abs(1.0 + aa / c) > 1e-300 else 1e-300
        de = d * c
        h *= de
        if abs(de - 1.0) < 1e-12:
            break
    return h


def t_two_sided_p(t, df):
    x = df / (df + t * t)
    lbeta = math.lgamma(df / 2) + math.lgamma(0.5) - math.lgamma(df / 2 + 0.5)
    front = math.exp(math.log(x) * df / 2 + math.log(1 - x) * 0.5 - lbeta) if 0 < x < 1 else 0.0
    if x <= 0:
        return 0.0
    if x < (df / 2 + 1) / (df / 2 + 0.5 + 2):
        ib = front * betacf(df / 2, 0.5, x) / (df / 2)
    else:
        ib = 1.0 - front * betacf(0.5, df / 2, 1 - x) / 0.5
    return min(1.0, max(0.0, ib))


def t_crit(df):
    lo, hi = 0.0, 100.0
    for _ in range(100):
        mid = (lo + hi) / 2
        if t_two_sided_p(mid, df) > 0.05:
            lo = mid
        else:
            hi = mid
    return hi


def p_from_ci(mean, ci95, n):
    """Two-sided one-sample t-test p from a mean and its 95% Student-t half-width."""
    if n < 2 or math.isnan(mean) or math.isnan(ci95):
        return math.nan
    if ci95 == 0:
        return 1.0  # zero variance: never significant
    se = ci95 / t_crit(n - 1)
    return t_two_sided_p(mean / se, n - 1)


def fmt(x, d=3):
    return "–" if x is None or math.isnan(x) else f"{x:+.{d}f}"


def tally(cells, p_key="p_value", label=""):
    """Holm over `cells` (rows with diff_mean and a p-value): better/worse surviving."""
    ps = [num(c[p_key]) for c in cells]
    adj = holm(ps)
    better = sum(1 for c, a in zip(cells, adj) if a < ALPHA and num(c["diff_mean"]) > 0)
    worse = sum(1 for c, a in zip(cells, adj) if a < ALPHA and num(c["diff_mean"]) < 0)
    tests = sum(1 for p in ps if not math.isnan(p))
    mean = sum(num(c["diff_mean"]) for c in cells) / max(1, len(cells))
    return tests, better, worse, mean


def paired_along(study, field, a, b, keep=lambda r: True):
    """Like paired_runs, but along any key column: `field` = a minus `field` = b, cells being
    every other key column (method included)."""
    keys = ["method", "sparsity", "missing_mechanism", "missing_rate", "imputation", "variant"]
    runs = rows(study, "runs.csv") or []
    acc = {}
    for r in runs:
        if r.get("diverged") == "true" or not keep(r):
            continue
        cell = tuple(r.get(k, "") for k in keys if k != field)
        acc[(r[field], cell, r["seed"])] = num(r["test_accuracy"])
    cells = defaultdict(list)
    for (v, cell, seed), x in acc.items():
        if v == a and (b, cell, seed) in acc:
            cells[cell].append(x - acc[(b, cell, seed)])
    return [stats(cell, d) for cell, d in sorted(cells.items())]


def stats(cell, d):
    n = len(d)
    mean = sum(d) / n
    sd = math.sqrt(sum((x - mean) ** 2 for x in d) / (n - 1)) if n > 1 else math.nan
    ci = t_crit(n - 1) * sd / math.sqrt(n) if n > 1 else math.nan
    p = math.nan if n < 2 else (1.0 if sd == 0 else t_two_sided_p(mean / (sd / math.sqrt(n)), n - 1))
    return {"cell": cell, "n": n, "diff_mean": mean, "diff_ci95": ci, "p_value": p}


def paired_runs(study, a, b, keep=lambda r: True):
    """Per cell (sparsity, mechanism, rate, imputation), method a minus method b paired by seed
    from runs.csv (same seed: same split, missing values and initial draws), as rows with
    diff_mean, diff_ci95, n and p_value; diverged runs left out."""
    runs = rows(study, "runs.csv") or []
    acc = {}
    for r in runs:
        if r.get("diverged") == "true" or not keep(r):
            continue
        cell = (r["sparsity"], r["missing_mechanism"], r["missing_rate"], r["imputation"], r.get("variant", ""))
        acc[(r["method"], cell, r["seed"])] = num(r["test_accuracy"])
    cells = defaultdict(list)
    for (m, cell, seed), v in acc.items():
        if m == a and (b, cell, seed) in acc:
            cells[cell].append(v - acc[(b, cell, seed)])
    return [stats(cell, d) for cell, d in sorted(cells.items())]


def holm_column(cells, p_key):
    """The cells whose file already holds a Holm-adjusted p-value in `p_key` (NaN: no test),
    and those of them significant at 5%."""
    tested = [r for r in cells if not math.isnan(num(r[p_key]))]
    return tested, [r for r in tested if num(r[p_key]) < ALPHA]


def section(title):
    print(f"\n## {title}\n")


def part1_paper():
    paired = rows("part1-paper", "paired_vs_dense.csv")
    summary = rows("part1-paper", "summary.csv")
    if not paired:
        return
    section("part1-paper (WDBC, MCAR, paired_vs_dense.csv and summary.csv)")
    n = {int(num(r["n"])) for r in paired}
    print(f"seeds per cell: {sorted(n)}; diverged runs: {sum(int(num(r['n_diverged'])) for r in summary)}")
    acc = {(r["method"], num(r["sparsity"]), num(r["missing_rate"])): (num(r["test_accuracy_mean"]), num(r["test_accuracy_ci95"])) for r in summary}
    dense0 = acc[("dense", 0.0, 0.0)]
    print(f"dense without missing data: {dense0[0]:.3f} ± {dense0[1]:.3f}")
    low, extreme = [0.25, 0.5, 0.75], [0.9, 0.95, 0.98, 0.99]
    methods = sorted({r["method"] for r in paired})
    for name, levels, group in [
        ("(a) low sparsity, SET and static (Holm over the claim's cells)", low, ["set", "static"]),
        ("(a') low sparsity, the six other methods (Holm over the claim's cells)", low, [m for m in methods if m not in ("set", "static")]),
        ("(b) extreme sparsity, SET and static (Holm over the claim's cells)", extreme, ["set", "static"]),
    ]:
        cells = [r for r in paired if r["method"] in group and num(r["sparsity"]) in levels]
        adj = holm([num(c["p_value"]) for c in cells])
        print(f"{name}: {len(cells)} tests")
        for m in group:
            mine = [(c, a) for c, a in zip(cells, adj) if c["method"] == m]
            above = sum(1 for c, _ in mine if num(c["diff_mean"]) > 0)
            b = sum(1 for c, a in mine if a < ALPHA and num(c["diff_mean"]) > 0)
            w = sum(1 for c, a in mine if a < ALPHA and num(c["diff_mean"]) < 0)
            avg = sum(num(c["diff_mean"]) for c, _ in mine) / len(mine)
            nom = sum(1 for c, _ in mine if num(c["p_value"]) < ALPHA)
            print(f"  {m}: {len(mine)} cells, mean above dense in {above}, average difference {fmt(avg, 4)}, significant after Holm: {b} better, {w} worse (uncorrected p < 0.05: {nom})")
    print("\nwithout missing data, difference to dense (paired, mean ± 95% CI, p):")
    for m in ["set", "static"]:
        for s in low + extreme:
            c = [r for r in paired if r["method"] == m and num(r["sparsity"]) == s and num(r["missing_rate"]) == 0.0]
            if c:
                c = c[0]
                print(f"  {m} {s}: {fmt(num(c['diff_mean']))} ± {num(c['diff_ci95']):.3f} (p {num(c['p_value']):.3f})")
    print("\n(c) missing rate = sparsity (summary means):")
    for s in [0.9, 0.95, 0.98, 0.99]:
        line = [f"{m} {acc.get((m, s, s), (math.nan,))[0]:.3f}" for m in ["set", "static"]]
        line.append(f"dense {acc.get(('dense', 0.0, s), (math.nan,))[0]:.3f}")
        print(f"  {s}: " + ", ".join(line))
    print("\nthe DST family: accuracy without missing data by sparsity; extreme cells (32) with Holm over each method's 32:")
    for m in methods:
        if m == "dense":
            continue
        accs = " ".join(f"{acc.get((m, s, 0.0), (math.nan,))[0]:.3f}" for s in extreme)
        cells = [r for r in paired if r["method"] == m and num(r["sparsity"]) in extreme]
        t, b, w, mean = tally(cells)
        lowc = [r for r in paired if r["method"] == m and num(r["sparsity"]) in low]
        tl, bl, wl, ml = tally(lowc)
        print(f"  {m}: {accs} | extreme: {t} tests, {w} worse, {b} better, average {fmt(mean)} | low: {tl} tests, {wl} worse, {bl} better, average {fmt(ml, 4)}")
    print("\nSET minus static, paired by seed from runs.csv (Holm over the claim's cells):")
    for name, levels in [("low", low), ("extreme", extreme)]:
        cells = paired_runs("part1-paper", "set", "static", lambda r: num(r["sparsity"]) in levels)
        t, bt, w, mean = tally(cells)
        print(f"  {name}: {t} tests, SET better in {bt}, worse in {w}, average {fmt(mean, 4)}")
        for c in cells:
            if c["cell"][2] in ("0.0", "0"):
                print(f"    sparsity {c['cell'][0]} without missing data: {fmt(c['diff_mean'])} ± {c['diff_ci95']:.3f} (p {c['p_value']:.3f})")
    print("\nRigL minus SET and GMP minus RigL at extreme sparsity, paired (Holm over each claim's 32 cells):")
    for a, b in [("rigl", "set"), ("snfs", "set"), ("gmp", "rigl")]:
        cells = paired_runs("part1-paper", a, b, lambda r: num(r["sparsity"]) in extreme)
        t, bt, w, mean = tally(cells)
        print(f"  {a} - {b}: {t} tests, better in {bt}, worse in {w}, average {fmt(mean, 4)}")
    if summary:
        flops = defaultdict(dict)
        for r in summary:
            flops[r["method"]][(num(r["sparsity"]), num(r["missing_rate"]))] = num(r["train_flops_mean"])
        d = flops["dense"][(0.0, 0.0)]
        for s, q in [(0.9, 0.9), (0.99, 0.99)]:
            if (s, q) in flops["set"]:
                print(f"SET train_flops at sparsity {s}, missing {q}: {flops['set'][(s, q)] / d:.3f} of dense on complete data")


def paired_block(study, group_by=("method", "sparsity"), title=None):
    paired = rows(study, "paired_vs_dense.csv")
    if not paired:
        return
    section(title or f"{study}: paired_vs_dense.csv, Holm over each (method, sparsity)'s cells")
    groups = defaultdict(list)
    for r in paired:
        groups[tuple(r[k] for k in group_by)].append(r)
    for k, cells in sorted(groups.items()):
        t, b, w, mean = tally(cells)
        print(f"  {'/'.join(k)}: {t} tests, {b} better, {w} worse after Holm, average difference {fmt(mean, 4)}")


def mechanisms():
    summary = rows("part1-mechanisms", "summary.csv")
    if not summary:
        return
    section("part1-mechanisms: mean test accuracy over models (dense, static, SET, RigL at both sparsities) per mechanism x imputation")
    by = defaultdict(list)
    for r in summary:
        by[(r["missing_mechanism"], num(r["missing_rate"]), r["imputation"])].append(num(r["test_accuracy_mean"]))
    mechs = sorted({k[0] for k in by})
    imps = sorted({k[2] for k in by})
    for rate in sorted({k[1] for k in by}):
        print(f"missing rate {rate}:")
        print("  mechanism | " + " | ".join(imps) + " | all")
        for m in mechs:
            vals = [sum(by[(m, rate, i)]) / len(by[(m, rate, i)]) for i in imps]
            allv = [v for i in imps for v in by[(m, rate, i)]]
            print(f"  {m} | " + " | ".join(f"{v:.3f}" for v in vals) + f" | {sum(allv) / len(allv):.3f}")
    paired_block("part1-mechanisms", ("method", "sparsity"))
    print("\neach imputation minus `absent`, paired by seed (same split and missing values), Holm over each imputation's 105 cells (dense, and static, SET, RigL at 2 sparsities; 5 mechanisms; 3 rates):")
    for imp in ["iterative", "knn", "mean", "mean+indicator", "median"]:
        cells = paired_along("part1-mechanisms", "imputation", imp, "absent")
        t, b_, w, mean = tally(cells)
        at50 = [c for c in cells if c["cell"][3] == "0.5"]
        m50 = sum(c["diff_mean"] for c in at50) / max(1, len(at50))
        print(f"  {imp}: {t} tests, better in {b_}, worse in {w}, average {fmt(mean, 4)} (at 50% missing {fmt(m50, 4)})")
    print("\nper mechanism at 50% missing, iterative and mean+indicator minus absent (averaged over models):")
    for mech in ["mar", "mcar", "mnar", "mnar-quantile", "mnar-self-logistic"]:
        line = []
        for imp in ["iterative", "knn", "mean+indicator"]:
            cells = [c for c in paired_along("part1-mechanisms", "imputation", imp, "absent") if c["cell"][2] == mech and c["cell"][3] == "0.5"]
            t, b_, w, mean = tally(cells)
            line.append(f"{imp} {fmt(mean)} ({b_} better, {w} worse of {t})")
        print(f"  {mech}: " + "; ".join(line))


def degree():
    d = rows("part1-degree", "degree_vs_missingness.csv")
    if not d:
        return
    section("part1-degree: Spearman rho (degree vs missing rate), one-sample t over seeds, Holm over all cells of the file")
    ps = [p_from_ci(num(r["spearman_mean"]), num(r["spearman_ci95"]), int(num(r["n"]))) for r in d]
    adj = holm(ps)
    print(f"{sum(1 for p in ps if not math.isnan(p))} tests; surviving Holm: {sum(1 for a in adj if a < ALPHA)}")
    for r, p, a in zip(d, ps, adj):
        mark = " *" if a < ALPHA else ""
        print(f"  {r['method']} {r['missing_mechanism']} {r['imputation']}: {num(r['spearman_mean']):+.2f} ± {num(r['spearman_ci95']):.2f} (p {p:.4f}, Holm {a:.4f}){mark}")


def forgetting(study):
    f = rows(study, "forgetting_summary.csv")
    if not f:
        return
    section(f"{study}: forgetting_summary.csv (training pass; unforgettable share, events per example, never learned)")
    for r in f:
        print(f"  {r['method']} {r['sparsity']} {r['missing_mechanism']}: unforgettable {100 * num(r['unforgettable_mean']):.1f} ± {100 * num(r['unforgettable_ci95']):.1f}%, events {num(r['forgetting_events_mean']):.2f} ± {num(r['forgetting_events_ci95']):.2f} (learned-only {num(r['forgetting_events_learned_mean']):.2f}), never learned {100 * num(r['never_learned_mean']):.1f}%, eval pass unforgettable {100 * num(r['unforgettable_epoch_eval_mean']):.1f}%")
    u = rows(study, "update_forgetting.csv")
    if u:
        print("\nupdate_forgetting.csv: events per 100 presentations across an update vs static at the same pairs (t from the CI, Holm over the file's cells):")
        ps = [p_from_ci(num(r["diff_vs_static_mean"]), num(r["diff_vs_static_ci95"]), int(num(r["n"]))) for r in u]
        adj = holm(ps)
        print(f"  {sum(1 for p in ps if not math.isnan(p))} tests, {sum(1 for a in adj if a < ALPHA)} surviving")
        for r, a in zip(u, adj):
            mark = " *" if a < ALPHA else ""
            print(f"  {r['method']} {r['sparsity']} {r['missing_mechanism']}: after {100 * num(r['after_update_rate_mean']):.2f}, static {100 * num(r['static_rate_mean']):.2f}, diff {100 * num(r['diff_vs_static_mean']):+.2f} ± {100 * num(r['diff_vs_static_ci95']):.2f}{mark} (updates {num(r['updates_mean']):.0f}, unpaired {r['n_unpaired']})")
    print("\ntest accuracy, paired by seed from runs.csv (Holm over each comparison's 9 cells: 3 sparsities x 3 mechanisms):")
    for a_, b_ in [("set-zero", "set"), ("set-zero", "static"), ("set", "static")]:
        cells = paired_runs(study, a_, b_)
        t, bt, w, mean = tally(cells)
        print(f"  {a_} - {b_}: {t} tests, better in {bt}, worse in {w}, average {fmt(mean)}; " + ", ".join(f"{c['cell'][0]}/{c['cell'][1]} {fmt(c['diff_mean'])}" for c in cells))
    e = rows(study, "exemplars.csv")
    if e:
        print("\nexemplars.csv:")
        for r in e:
            print(f"  {r['method']} {r['sparsity']} {r['missing_mechanism']}: {r['exemplars']} of {r['test_examples']} ({100 * num(r['exemplar_share']):.1f}%), dense right sparse wrong {r['dense_right_sparse_wrong']}, dense p_true {num(r['exemplar_dense_p_true']):.2f} vs {num(r['all_dense_p_true']):.2f}, missing {num(r['exemplar_missing_mean']):.1f} vs {num(r['all_missing_mean']):.1f}")


def data_aware():
    d = rows("part2-data-aware", "data_aware.csv")
    if not d:
        return
    section("part2-data-aware: data_aware.csv (each option vs its plain method, paired by seed; p_holm: Holm per claim over the option cells)")
    for key in ["accuracy", "hardest", "exemplars"]:
        cells, sig = holm_column([r for r in d if r["option"] != "plain"], f"{key}_vs_plain_p_holm")
        print(f"{key}: {len(cells)} tests, {len(sig)} significant after Holm: " + "; ".join(f"{r['method']} {r['option']} {r['missing_mechanism']} {num(r[key + '_vs_plain_mean']):+.3f}" for r in sig))
    for r in d:
        if r["option"] == "plain":
            continue
        print(f"  {r['method']} {r['option']} {r['missing_mechanism']}: acc {num(r['accuracy_vs_plain_mean']):+.3f} ± {num(r['accuracy_vs_plain_ci95']):.3f}, hardest {num(r['hardest_vs_plain_mean']):+.3f} ± {num(r['hardest_vs_plain_ci95']):.3f}, exemplars {num(r['exemplars_vs_plain_mean']):+.3f} ± {num(r['exemplars_vs_plain_ci95']):.3f}, cost {num(r['cost_vs_plain']):.2f}")


def subsets(study):
    d = rows(study, "subsets.csv")
    if not d:
        return
    section(f"{study}: subsets.csv (each rule vs a random subset of the same size, paired; vs_random_p_holm)")
    cells, sig = holm_column(d, "vs_random_p_holm")
    print(f"{len(cells)} tests, {len(sig)} significant after Holm ({sum(1 for r in sig if num(r['vs_random_mean']) > 0)} better, {sum(1 for r in sig if num(r['vs_random_mean']) < 0)} worse)")
    for r in d:
        print(f"  {r['method']} {r['rule']} {r['fraction']}: {num(r['test_accuracy_mean']):.3f} ± {num(r['test_accuracy_ci95']):.3f}, vs random {num(r['vs_random_mean']):+.3f} ± {num(r['vs_random_ci95']):.3f} (Holm p {num(r['vs_random_p_holm']):.3f}), minority share {num(r['minority_share']):.3f}")


def continual():
    d = rows("part2-continual", "continual_summary.csv")
    if not d:
        return
    section("part2-continual: continual_summary.csv (memories vs random, paired by seed, Holm per claim)")
    for key in ["acc", "forgetting"]:
        cells, sig = holm_column(d, f"{key}_vs_random_p_holm")
        print(f"{key} vs random: {len(cells)} tests, {len(sig)} significant after Holm: " + "; ".join(f"{r['method']} {r['variant']} {num(r[key + '_vs_random_mean']):+.3f}" for r in sig))
    for r in d:
        print(f"  {r['method']} {r['variant']}: ACC {num(r['acc_mean']):.3f} ± {num(r['acc_ci95']):.3f}, forgetting {num(r['forgetting_mean']):.3f} ± {num(r['forgetting_ci95']):.3f}, vs random ACC {num(r['acc_vs_random_mean']):+.3f} ± {num(r['acc_vs_random_ci95']):.3f}")


def madelon():
    for study in ["part1-madelon", "part1-madelon-all-columns", "part1-madelon-epsilon"]:
        s = rows(study, "summary.csv")
        if not s:
            continue
        paired = rows(study, "paired_vs_dense.csv")
        section(f"{study}: summary.csv, paired_vs_dense.csv (Holm over the study's cells), feature_selection_summary.csv")
        t, b, w, mean = tally(paired)
        print(f"vs dense: {t} tests, {b} better, {w} worse after Holm, average {fmt(mean)}")
        adj = holm([num(c["p_value"]) for c in paired])
        for r in s:
            c = [(p, a) for p, a in zip(paired, adj) if p["method"] == r["method"] and p["sparsity"] == r["sparsity"] and p["missing_mechanism"] == r["missing_mechanism"] and p["imputation"] == r["imputation"]]
            extra = f", vs dense {num(c[0][0]['diff_mean']):+.3f} ± {num(c[0][0]['diff_ci95']):.3f} (p {num(c[0][0]['p_value']):.3f}, Holm {c[0][1]:.3f})" if c else ""
            print(f"  {r['method']} {r['sparsity']} {r['missing_mechanism']} {r['imputation']}: {num(r['test_accuracy_mean']):.3f} ± {num(r['test_accuracy_ci95']):.3f}{extra}")
        fs = rows(study, "feature_selection_summary.csv") or []
        for r in fs:
            print(f"  P@20 {r['method']} {r['sparsity']} {r['missing_mechanism']} {r['imputation']} ({r['ranked_by']}): {num(r['precision_at_k_mean']):.2f} ± {num(r['precision_at_k_ci95']):.2f}, AP {num(r['average_precision_mean']):.2f}, never above 0.9: {r['n_never']} of {r['n']}")


def main():
    print(f"# Numbers of results/DISCUSSION.md, from {ROOT}")
    part1_paper()
    mechanisms()
    paired_block("part1-digits")
    s = rows("part1-digits", "summary.csv")
    if s:
        for r in s:
            print(f"  digits {r['method']} {r['sparsity']} mcar {r['missing_rate']}: {num(r['test_accuracy_mean']):.3f} ± {num(r['test_accuracy_ci95']):.3f}")
    degree()
    madelon()
    forgetting("part2-forgetting-wdbc")
    forgetting("part2-forgetting-digits")
    data_aware()
    subsets("part2-subsets")
    subsets("part2-subsets-digits")
    continual()


if __name__ == "__main__":
    main()
