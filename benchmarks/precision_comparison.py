"""Paired comparison of one study run twice, differing only in precision (bf16 is the CPU default only
where its results match float32 within seed noise).

    python benchmarks/precision_comparison.py outputs/cifar10-smoke outputs/cifar10-smoke-fp32

Per method: the mean over seeds of (study A - study B) for the final-cycle metric and the AUBC, its
95 % interval and the paired t-test's p (l2ral_lib.report.stats.paired_differences: every seed of A against
the same seed of B, which shares its initial set, subsets and initial weights), and the training time
ratio B / A. Prints a markdown table (BENCHMARKS.md) and writes it as CSV beside.
"""
from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd

from l2ral_lib.report import stats
from l2ral_lib.checks import from_dict
from l2ral_lib.report.labels import method_label
from l2ral_lib.outputs import changed_params
from l2ral_lib.report.readme import markdown
from l2ral_lib.report.study import StudyResults

PRECISION_KEYS = {"study", "amp", "channels_last"}


def compare(a_dir: Path, b_dir: Path, a_name: str, b_name: str) -> pd.DataFrame:
    """One row per (method, quantity): mean difference A - B with its interval, p and verdict."""
    first, second = StudyResults(a_dir), StudyResults(b_dir)
    changed = changed_params(first.recorded, from_dict(second.recorded), ignored=PRECISION_KEYS)
    if changed:
        raise SystemExit(f"error: {a_dir} and {b_dir} differ in more than precision: {', '.join(changed)}")
    a, b, metric = first.table, second.table, first.metric
    rows = []
    for method in sorted(set(a.method) & set(b.method)):
        pair = pd.concat([a[a.method == method].assign(method=a_name), b[b.method == method].assign(method=b_name)])
        diff = stats.paired_differences(pair, metric, reference=b_name)
        seconds = [t[(t.method == method) & (t.metric == "time_train_s")].value.sum() for t in (a, b)]
        for row in diff.itertuples():
            rows.append({"method": method_label(method), "quantity": row.quantity, "metric": metric,
                         "seeds": row.n_seeds, f"mean {a_name} - {b_name}": f"{row.mean_diff:+.3g}",
                         "95% interval": row.interval, "p": f"{row.p_value:.2g}", "verdict": row.verdict,
                         f"train time {b_name} / {a_name}": f"{seconds[1] / seconds[0]:.2f}"})
    return pd.DataFrame(rows).set_index("method")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("a", type=Path, help="study folder A (e.g. the bf16 run)")
    parser.add_argument("b", type=Path, help="study folder B, same params but precision (e.g. float32)")
    parser.add_argument("--names", default="bf16,float32", help="names of A and B in the table")
    args = parser.parse_args()
    a_name, b_name = args.names.split(",")
    table = compare(args.a, args.b, a_name, b_name)
    table.to_csv(args.a / f"precision_vs_{args.b.name}.csv")
    print(markdown(table))


if __name__ == "__main__":
    main()
