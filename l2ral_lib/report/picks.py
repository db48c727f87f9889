"""What each method picked, and for classification the classes it picked: from a study's stored picks
(report.study.StudyResults.picks: one row per (method, seed, cycle, pool_index), cycle 0 = the initial
labeled set, a batch in the order the strategy returned it) and the pool of the study's dataset (labels:
read from the loaded data, no model is built, nothing is trained or retrained).

`class_histogram` (picks per class, every class listed, zeros included), its table and figure; `balance`:
the entropy of the queried class distribution in **nats** (natural log) per (method, seed, cycle), beside
`pool_entropy`, the class entropy of the whole pool (figure: mean over seeds, 95 % t-interval band, higher
= more balanced). report.overlap compares the methods' picks, report.gallery draws them.
"""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from . import stats
from .figure_style import palette
from .labels import method_label, ordered

# The label order of the loaders (CIFAR-10's official order, which the offline ImageFolder's class folders
# sort into; CelebA's `Male` attribute: 0 = not male). Other classification data: the label number.
CLASS_NAMES = {"cifar10": ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"],
               "celeba": ["female", "male"]}
ENTROPY_UNIT = "nats"


# --- a batch of the picks


def batch(picks: pd.DataFrame, method: str, seed: int, cycle: int) -> list[int]:
    """The pool indices `method` queried at (seed, cycle), in stored order."""
    rows = picks[(picks.method == method) & (picks.seed == seed) & (picks.cycle == cycle)]
    return rows.pool_index.tolist()


def check_indices(picks: pd.DataFrame, n_pool: int) -> None:
    """Refuse picks outside a pool of `n_pool` items: the study ran on other data."""
    outside = picks[(picks.pool_index < 0) | (picks.pool_index >= n_pool)]
    if len(outside):
        first = outside.iloc[0]
        raise ValueError(f"{first.method} seed {first.seed} cycle {first.cycle} picked pool index {first.pool_index},"
                         f" outside this dataset's pool of {n_pool}: the study ran on other data (data_root,"
                         " pool_size)?")


# --- classification: what classes were queried


def pool_labels(data) -> np.ndarray:
    """The class label of every pool item of classification data (the loaded labels; no model)."""
    if data.task != "classification":
        raise ValueError(f"{data.name} is a {data.task} dataset: class labels exist for classification only")
    return data.train_labels.detach().cpu().numpy().astype(np.int64)


def class_names(data, num_classes: int) -> list[str]:
    names = CLASS_NAMES.get(getattr(data, "name", ""), [])
    return names if len(names) == num_classes else [str(k) for k in range(num_classes)]


def class_histogram(picks: pd.DataFrame, labels, num_classes: int | None = None) -> pd.DataFrame:
    """Picks per class: columns method, seed, cycle, class, count -- one row for every class of every
    (method, seed, cycle), zero counts included. `labels[i]` is pool item i's class."""
    labels = np.asarray(labels, dtype=np.int64)
    check_indices(picks, len(labels))
    k = int(num_classes if num_classes is not None else labels.max() + 1)
    keys = ["method", "seed", "cycle"]
    frame = picks.assign(label=labels[picks.pool_index.to_numpy()])
    wide = frame.groupby(keys, sort=False).label.value_counts().unstack("label", fill_value=0)
    wide = wide.reindex(columns=range(k), fill_value=0)
    wide.columns.name = "class"
    hist = wide.stack().rename("count").reset_index()
    return hist.astype({"class": int, "count": int})[keys + ["class", "count"]]


def histogram_table(hist: pd.DataFrame, names: list[str] | None = None) -> pd.DataFrame:
    """Mean picks per class over seeds: one row per (method, cycle), one column per class, then the
    number of seeds. Cycle 0 is the initial labeled set (random, shared by every method of a seed)."""
    mean = hist.groupby(["method", "cycle", "class"])["count"].mean().unstack("class")
    seeds = hist.groupby(["method", "cycle"]).seed.nunique()
    if names is not None:
        mean.columns = [names[k] for k in mean.columns]
    mean["seeds"] = seeds
    mean = mean.reindex([(m, c) for m in ordered(hist.method.unique()) for c in sorted(hist.cycle.unique())
                         if (m, c) in mean.index])
    mean.index = pd.MultiIndex.from_tuples([(method_label(m), c) for m, c in mean.index], names=["method", "cycle"])
    mean.columns.name = "mean picks per class over seeds (cycle 0: the initial set)"
    return mean.round(2)


def entropy_nats(counts) -> float:
    """Shannon entropy (natural log, nats) of the distribution given by non-negative counts; 0 log 0 = 0;
    NaN for no count at all."""
    counts = np.asarray(counts, dtype=float)
    total = counts.sum()
    if total <= 0:
        return float("nan")
    p = counts[counts > 0] / total
    return float(-(p * np.log(p)).sum())


def balance(hist: pd.DataFrame) -> pd.DataFrame:
    """Per (method, seed, cycle): n_picks and `entropy`, the entropy in nats of the picked classes
    (0 = one class only; ln K = every one of K classes equally often)."""
    grouped = hist.groupby(["method", "seed", "cycle"], sort=False)["count"]
    out = grouped.agg(n_picks="sum", entropy=lambda c: entropy_nats(c.to_numpy())).reset_index()
    return out.astype({"n_picks": int})


def pool_entropy(labels, num_classes: int | None = None) -> float:
    """The class entropy (nats) of the whole pool: the reference for the picks' balance."""
    labels = np.asarray(labels, dtype=np.int64)
    return entropy_nats(np.bincount(labels, minlength=num_classes or 0))


def seed_summary(frame: pd.DataFrame, keys: list[str], value: str) -> pd.DataFrame:
    """Mean and 95 % t-interval over the rows of each group (seeds)."""
    rows = []
    for key, group in frame.groupby(keys, sort=False):
        mean, low, high = stats.mean_interval(group[value].to_numpy())
        rows.append(dict(zip(keys, key if isinstance(key, tuple) else (key,)), n_seeds=len(group), mean=mean,
                         ci_low=low, ci_high=high))
    return pd.DataFrame(rows, columns=keys + ["n_seeds", "mean", "ci_low", "ci_high"])


def balance_table(bal: pd.DataFrame, pool: float) -> pd.DataFrame:
    """Entropy of the queried classes per method (rows) and cycle (columns, queried cycles only):
    'mean [95% t-interval over seeds]', with the pool's entropy in the header."""
    summary = seed_summary(bal[bal.cycle >= 1], ["method", "cycle"], "entropy")
    text = summary.assign(text=[f"{r.mean:.3f}  {stats.interval_text(r.ci_low, r.ci_high, r.n_seeds)}"
                                for r in summary.itertuples()])
    wide = text.pivot(index="method", columns="cycle", values="text")
    wide = wide.loc[ordered(wide.index)]
    wide.index = [method_label(m) for m in wide.index]
    wide.index.name = "method"
    wide.columns.name = (f"class entropy of the queried batch ({ENTROPY_UNIT}; higher = more balanced) per cycle;"
                         f" mean [95% t-interval over seeds]; the pool's: {pool:.3f}")
    return wide


def class_histogram_plot(hist: pd.DataFrame, ax=None, cycle: int | None = None, pool_share=None,
                         names: list[str] | None = None):
    """Share of each class among the queried items, one bar per method: mean over seeds, whiskers =
    95 % t-interval across seeds. `cycle`: one cycle; None: every queried cycle pooled (cycle 0, the
    shared initial set, left out). `pool_share`: each class's share of the pool (fractions), drawn as
    black ticks."""
    ax = ax or plt.subplots(figsize=(9, 4))[1]
    part = hist[hist.cycle == cycle] if cycle is not None else hist[hist.cycle >= 1]
    per_seed = part.groupby(["method", "seed", "class"])["count"].sum().reset_index()
    per_seed["share"] = 100 * per_seed["count"] / per_seed.groupby(["method", "seed"])["count"].transform("sum")
    summary = seed_summary(per_seed, ["method", "class"], "share")
    methods = ordered(summary.method.unique())
    classes = sorted(summary["class"].unique())
    colours = palette(methods)
    width = 0.8 / max(len(methods), 1)
    for i, method in enumerate(methods):
        rows = summary[summary.method == method].set_index("class").reindex(classes)
        x = np.arange(len(classes)) - 0.4 + (i + 0.5) * width
        error = np.array([rows["mean"] - rows.ci_low, rows.ci_high - rows["mean"]])
        ax.bar(x, rows["mean"], width, color=colours[method], label=method_label(method),
               yerr=None if np.isnan(error).all() else np.nan_to_num(error), capsize=2, error_kw={"lw": 0.8})
    if pool_share is not None:
        share = 100 * np.asarray(pool_share, dtype=float)[classes]
        ax.hlines(share, np.arange(len(classes)) - 0.45, np.arange(len(classes)) + 0.45, colors="black",
                  linewidth=1.5, label="pool's share")
    ax.set_xticks(range(len(classes)), [names[k] for k in classes] if names else [str(k) for k in classes],
                  rotation=30 if len(classes) > 4 else 0, ha="right" if len(classes) > 4 else "center")
    seeds = int(summary.n_seeds.max()) if len(summary) else 0
    runs = f"mean of {seeds} seeds, whiskers = 95% t-interval" if seeds > 1 else "one seed, no interval"
    which = f"cycle {cycle}" if cycle is not None else "all queried cycles pooled"
    ax.set_ylim(0, min(100, ax.get_ylim()[1]))  # a share lies in [0, 100]: whiskers beyond are cut
    ax.set_xlabel("Class")
    ax.set_ylabel("Share of queried items (%)\n(no better direction)")
    ax.set_title(f"Classes of the queried items ({which}; {runs})", fontsize=10)
    ax.grid(alpha=0.3, axis="y")
    ax.legend(fontsize=8, frameon=False, ncol=2)
    return ax


def balance_plot(bal: pd.DataFrame, pool: float, ax=None, num_classes: int | None = None):
    """Class entropy (nats) of each queried batch per cycle, one line per method: mean over seeds, band =
    95 % t-interval across seeds; the pool's class entropy as a dashed reference line and, with
    `num_classes`, the maximum ln K dotted. A finite batch's entropy falls below the pool's even when
    drawn at random: Random's line is the reference for the batch size."""
    ax = ax or plt.subplots(figsize=(7, 4.5))[1]
    summary = seed_summary(bal[bal.cycle >= 1], ["method", "cycle"], "entropy")
    methods = ordered(summary.method.unique())
    colours = palette(methods)
    for method in methods:
        curve = summary[summary.method == method].sort_values("cycle")
        ax.plot(curve.cycle, curve["mean"], marker="o", ms=3, color=colours[method], label=method_label(method))
        if curve.n_seeds.max() > 1:
            ax.fill_between(curve.cycle, curve.ci_low, curve.ci_high, color=colours[method], alpha=0.15, linewidth=0)
    ax.axhline(pool, color="black", linestyle="--", linewidth=1, label=f"pool's class entropy ({pool:.3f})")
    if num_classes:
        ax.axhline(np.log(num_classes), color="grey", linestyle=":", linewidth=1,
                   label=f"maximum, ln {num_classes} ({np.log(num_classes):.3f})")
    top = ax.get_ylim()[1] if not num_classes else min(ax.get_ylim()[1], 1.15 * np.log(num_classes))
    ax.set_ylim(-0.03 * top, top)  # an entropy lies in [0, ln K]: bands beyond are cut (a line at 0 stays seen)
    if len(summary):
        ax.set_xticks(sorted(summary.cycle.unique()))
    seeds = int(summary.n_seeds.max()) if len(summary) else 0
    runs = f"mean of {seeds} seeds, band = 95% t-interval" if seeds > 1 else "one seed, no band"
    ax.set_xlabel("Cycle (the batch queried at that cycle)")
    ax.set_ylabel(f"Class entropy of the queried batch ({ENTROPY_UNIT})\n(higher = more balanced)")
    ax.set_title(f"Balance of the queried classes ({runs})", fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, frameon=False)
    return ax
