"""What each method picked: query diagnostics from a study folder's stored picks and its dataset alone.

Reads `<study>/params.json` and `<study>/slices/<method>-seed<k>/selected.json` ({"0": the initial
labeled set, "c": the pool indices queried at cycle c, in the order the strategy returned them}) and
the pool of the study's dataset (labels, counts, poses: read from the loaded data, no model is built,
nothing is trained or retrained).

- `load_picks`: the tidy picks, one row per (method, seed, cycle, pool_index), stored order kept.
- Classification: `class_histogram` (picks per class, every class listed, zeros included), its table
  and figure; `balance`: the entropy of the queried class distribution in **nats** (natural log) per
  (method, seed, cycle), beside `pool_entropy`, the class entropy of the whole pool (figure: mean over
  seeds, 95 % t-interval band, higher = more balanced).
- Overlap: `jaccard_table`, |A & B| / |A | B| of the batches two methods queried at the same (seed,
  cycle), every pair, cycles >= 1 (cycle 0, the initial set, is shared by construction); `jaccard_matrix`:
  per pair the mean over seeds of each seed's mean over cycles (heatmap with the 95 % t-interval over
  seeds; no better direction). `chance_jaccard`: about what two independent random picks would share.
- Pictures (`picks_gallery`): for one seed and cycle the first N items each method queried, drawn as
  the task needs -- images with their class (classification), crowd images with their head counts,
  person crops with their annotated poses.
- True losses of the picks: not stored by any study yet; `true_loss_hook` is where the comparison of
  the picks' true losses with the subset's goes once a study has them (an `oracle-loss` method);
  until then it says so, and `oracle_agreement` gives each method's Jaccard with that oracle's picks
  when a study has the method.

`picks_section(out_dir, params, data)` shows all of it in a notebook cell and saves the figures under
`out_dir/figures/` (picks_classes, picks_balance, picks_jaccard, picks_gallery).
"""
from __future__ import annotations

import itertools
import json
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from ..config import parse_params
from ..data import load_dataset
from ..data.generated_pose import LIMBS  # the MPII skeleton, joint order of tasks.MPII_JOINTS
from ..data.mpii import CONTEXT
from ..paths import enter_project_root
from . import stats, tables
from .figures import palette, save_figure
from .labels import method_label, ordered

PICK_COLUMNS = ["method", "seed", "cycle", "pool_index"]
ORACLE_METHOD = "oracle-loss"  # the loss oracle: queries the subset's items of highest true loss (reads the labels)
# The label order of the loaders (CIFAR-10's official order, which the offline ImageFolder's class folders
# sort into; CelebA's `Male` attribute: 0 = not male). Other classification data: the label number.
CLASS_NAMES = {"cifar10": ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"],
               "celeba": ["female", "male"]}
ENTROPY_UNIT = "nats"


# --- the picks


def load_picks(out_dir: str | Path) -> pd.DataFrame:
    """Tidy picks of every slice of a study: columns method, seed, cycle, pool_index (ints), cycle 0 =
    the initial labeled set; rows by method (paper order), seed, cycle, and within a batch in the order
    stored (the strategy's own order)."""
    files = sorted((Path(out_dir) / "slices").glob("*-seed*/selected.json"))
    frames = []
    for path in files:
        method, _, seed = path.parent.name.rpartition("-seed")
        if not seed.isdigit():
            continue
        for cycle, indices in json.loads(path.read_text()).items():
            frames.append(pd.DataFrame({"method": method, "seed": int(seed), "cycle": int(cycle),
                                        "pool_index": np.asarray(indices, dtype=np.int64)}))
    if not frames:
        raise FileNotFoundError(f"no slices/<method>-seed<k>/selected.json under {out_dir}: not a study folder,"
                                " or no slice has finished a cycle yet")
    picks = pd.concat(frames, ignore_index=True)
    rank = {m: i for i, m in enumerate(ordered(picks.method.unique()))}
    picks = picks.assign(_rank=picks.method.map(rank)).sort_values(["_rank", "seed", "cycle"], kind="stable")
    return picks[PICK_COLUMNS].reset_index(drop=True).astype({"seed": int, "cycle": int, "pool_index": np.int64})


def _batch(picks: pd.DataFrame, method: str, seed: int, cycle: int) -> list[int]:
    rows = picks[(picks.method == method) & (picks.seed == seed) & (picks.cycle == cycle)]
    return rows.pool_index.tolist()


def _check_indices(picks: pd.DataFrame, n_pool: int) -> None:
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
    _check_indices(picks, len(labels))
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


def _summary(frame: pd.DataFrame, keys: list[str], value: str) -> pd.DataFrame:
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
    summary = _summary(bal[bal.cycle >= 1], ["method", "cycle"], "entropy")
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
    summary = _summary(per_seed, ["method", "class"], "share")
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
    summary = _summary(bal[bal.cycle >= 1], ["method", "cycle"], "entropy")
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


# --- overlap between methods


def jaccard(a, b) -> float:
    """|A & B| / |A | B| of two collections of pool indices (as sets); NaN when both are empty."""
    a, b = set(a), set(b)
    union = a | b
    return len(a & b) / len(union) if union else float("nan")


def jaccard_table(picks: pd.DataFrame, include_initial: bool = False) -> pd.DataFrame:
    """Per (seed, cycle) and every pair of methods that both have that batch: columns seed, cycle,
    method_a, method_b (paper order: a before b), intersection, union, jaccard. Cycle 0 (the initial set,
    the same for every method of a seed) only with `include_initial`."""
    rows = []
    part = picks if include_initial else picks[picks.cycle >= 1]
    for (seed, cycle), group in part.groupby(["seed", "cycle"]):
        batches = {m: set(g.pool_index.tolist()) for m, g in group.groupby("method")}
        for a, b in itertools.combinations(ordered(batches), 2):
            both, either = batches[a] & batches[b], batches[a] | batches[b]
            rows.append(dict(seed=int(seed), cycle=int(cycle), method_a=a, method_b=b, intersection=len(both),
                             union=len(either), jaccard=len(both) / len(either) if either else float("nan")))
    return pd.DataFrame(rows, columns=["seed", "cycle", "method_a", "method_b", "intersection", "union", "jaccard"])


def jaccard_summary(table: pd.DataFrame) -> pd.DataFrame:
    """Per pair: each seed's mean over its cycles, then mean and 95 % t-interval over seeds (n_seeds,
    n_cycles = the most cycles a seed has)."""
    per_seed = table.groupby(["method_a", "method_b", "seed"], sort=False).jaccard.agg(["mean", "size"])
    per_seed = per_seed.rename(columns={"mean": "jaccard", "size": "n_cycles"}).reset_index()
    summary = _summary(per_seed, ["method_a", "method_b"], "jaccard")
    cycles = per_seed.groupby(["method_a", "method_b"], sort=False).n_cycles.max().reset_index()
    return summary.merge(cycles, on=["method_a", "method_b"], how="left")


def jaccard_matrix(table: pd.DataFrame, value: str = "mean") -> pd.DataFrame:
    """Symmetric methods x methods matrix of `jaccard_summary`'s `value` (mean, ci_low, ci_high); the
    diagonal is 1 (a method's batch with itself)."""
    summary = jaccard_summary(table)
    methods = ordered(set(summary.method_a) | set(summary.method_b))
    matrix = pd.DataFrame(np.nan, index=pd.Index(methods, name="method"), columns=methods)
    for row in summary.itertuples():
        matrix.loc[row.method_a, row.method_b] = matrix.loc[row.method_b, row.method_a] = getattr(row, value)
    for m in methods:
        matrix.loc[m, m] = 1.0
    return matrix


def jaccard_text_table(table: pd.DataFrame) -> pd.DataFrame:
    """The matrix as 'mean [95% t-interval over seeds]' text, display names."""
    summary = jaccard_summary(table)
    methods = ordered(set(summary.method_a) | set(summary.method_b))
    text = pd.DataFrame("1", index=[method_label(m) for m in methods], columns=[method_label(m) for m in methods])
    for r in summary.itertuples():
        cell = f"{r.mean:.3f}  {stats.interval_text(r.ci_low, r.ci_high, r.n_seeds)}"
        text.loc[method_label(r.method_a), method_label(r.method_b)] = cell
        text.loc[method_label(r.method_b), method_label(r.method_a)] = cell
    text.index.name = "method"
    text.columns.name = ("Jaccard of the queried batches, mean over seeds of each seed's mean over cycles >= 1"
                         " [95% t-interval over seeds]; no better direction")
    return text


def method_overlap(table: pd.DataFrame, method: str, cycle: int) -> pd.DataFrame:
    """Jaccard of `method`'s batch with every other method's at one cycle, seed by seed (rows: the other
    methods, columns: seeds)."""
    rows = table[(table.cycle == cycle) & ((table.method_a == method) | (table.method_b == method))]
    other = np.where(rows.method_a == method, rows.method_b, rows.method_a)
    wide = rows.assign(other=other).pivot(index="other", columns="seed", values="jaccard")
    wide = wide.loc[ordered(wide.index)]
    wide.index = pd.Index([method_label(m) for m in wide.index], name="other method")
    wide.columns.name = f"Jaccard with {method_label(method)} at cycle {cycle}, per seed"
    return wide.round(3)


def chance_jaccard(query_size: int, subset_size: int) -> float:
    """About the Jaccard of two independent uniform picks of q items from the same S candidates:
    E|A & B| = q^2 / S, so J ~ q / (2S - q) (the methods of a seed score nearly the same subset)."""
    return query_size / (2 * subset_size - query_size)


def jaccard_heatmap(table: pd.DataFrame, ax=None, chance: float | None = None, title: str | None = None):
    """The Jaccard matrix (mean over seeds of each seed's mean over queried cycles) as a heatmap; each
    cell gives the mean and the 95 % t-interval over seeds. No better direction: it says how alike two
    methods' picks are. `chance`: the value two random pickers would reach (in the title)."""
    ax = ax or plt.subplots(figsize=(6.5, 5.5))[1]
    heading = title or "Overlap of the queried batches (Jaccard index)"
    summary = jaccard_summary(table)
    if summary.empty:
        ax.text(0.5, 0.5, "no Jaccard: fewer than two methods with a queried batch", ha="center", va="center",
                transform=ax.transAxes)
        ax.set_axis_off()
        ax.set_title(heading, fontsize=10)
        return ax
    matrix, low, high = (jaccard_matrix(table, v) for v in ("mean", "ci_low", "ci_high"))
    methods = list(matrix.index)
    values = matrix.to_numpy(float).copy()
    np.fill_diagonal(values, np.nan)  # grey: a method with itself
    vmax = max(0.05, float(np.nanmax(values))) if np.isfinite(values).any() else 1.0
    cmap = plt.get_cmap("Blues").with_extremes(bad="0.85")
    image = ax.imshow(values, cmap=cmap, vmin=0, vmax=vmax)
    for (i, j), value in np.ndenumerate(values):
        if np.isfinite(value):
            interval = (f"\n[{low.iat[i, j]:.2f}, {high.iat[i, j]:.2f}]" if np.isfinite(low.iat[i, j]) else "")
            ax.text(j, i, f"{value:.2f}{interval}", ha="center", va="center", fontsize=7,
                    color="white" if value > 0.6 * vmax else "black")
    labels = [method_label(m) for m in methods]
    ax.set_xticks(range(len(methods)), labels, rotation=30, ha="right")
    ax.set_yticks(range(len(methods)), labels)
    ax.figure.colorbar(image, ax=ax, fraction=0.046, pad=0.04, label="Jaccard index (no better direction)")
    seeds, cycles = int(summary.n_seeds.max()), int(summary.n_cycles.max())
    runs = (f"mean over {seeds} seeds of each seed's mean over {cycles} queried cycles, [95% t-interval over seeds]"
            if seeds > 1 else f"one seed, mean over {cycles} queried cycles, no interval")
    extra = f"; two random pickers: about {chance:.3f}" if chance is not None else ""
    ax.set_title(f"{heading}\n{runs}{extra}", fontsize=9)
    return ax


# --- what was picked, as pictures


def _shrink(image: np.ndarray, max_side: int) -> tuple[np.ndarray, int]:
    """Every s-th pixel so that the longer side is at most max_side (s >= 1), and s."""
    step = max(1, int(np.ceil(max(image.shape[:2]) / max_side)))
    return image[::step, ::step], step


def _hwc(images) -> list[np.ndarray]:
    return [np.ascontiguousarray(x) for x in images.detach().cpu().permute(0, 2, 3, 1).numpy()]


def classification_tiles(data, indices: list[int], max_side: int = 128):
    """Images of the picked pool items with their class names; no overlay."""
    labels = pool_labels(data)
    names = class_names(data, int(data.num_classes or labels.max() + 1))
    images = [_shrink(x, max_side)[0] for x in _hwc(data.train_images[indices])]
    return images, [names[labels[i]] for i in indices], [None] * len(indices)


def crowd_tiles(data, indices: list[int], max_side: int = 160):
    """Crowd images of the picked pool items with their annotated head counts; no overlay."""
    images = [_shrink(x, max_side)[0] for x in _hwc(data.train_images[indices])]
    return images, [f"{data.count(i)} heads" for i in indices], [None] * len(indices)


def pose_joints_in_crop(data, index: int) -> tuple[np.ndarray, np.ndarray]:
    """(16, 2) annotated joints of pool person `index` in the pixels of its stored context crop, and
    their visibility: crop pixel q shows original pixel center + (q - size / 2) x CONTEXT x box / size."""
    split = data.train
    size = split["crops"].shape[-1]
    k = CONTEXT * float(split["box"][index]) / size
    joints = split["joints"][index].detach().cpu().numpy().astype(float)
    center = split["center"][index].detach().cpu().numpy().astype(float)
    return (joints - center) / k + size / 2, split["visible"][index].detach().cpu().numpy() > 0


def pose_tiles(data, indices: list[int], max_side: int = 128):
    """Person crops of the picked pool items, their annotated poses as overlays (joints, limbs)."""
    images, overlays = [], []
    for i, crop in zip(indices, _hwc(data.train["crops"][indices])):
        image, step = _shrink(crop, max_side)
        joints, visible = pose_joints_in_crop(data, i)
        images.append(image)
        overlays.append(("pose", joints / step, visible))
    return images, [f"{int(v.sum())} joints" for _, _, v in overlays], overlays


GALLERY_TILES = {"classification": classification_tiles, "crowd_counting": crowd_tiles, "pose": pose_tiles}


def _draw_pose(ax, joints: np.ndarray, visible: np.ndarray, x0: float, y0: float) -> None:
    for a, b in LIMBS:
        if visible[a] and visible[b]:
            ax.plot([x0 + joints[a, 0], x0 + joints[b, 0]], [y0 + joints[a, 1], y0 + joints[b, 1]], color="yellow",
                    linewidth=1)
    shown = joints[visible]
    ax.plot(x0 + shown[:, 0], y0 + shown[:, 1], "o", ms=2, color="red", linestyle="none")


def caption_band(height: int) -> int:
    """White pixels under each gallery row for its two caption lines."""
    return max(2, int(round(0.5 * height)))


def picks_gallery(picks: pd.DataFrame, data, seed: int, cycle: int, n: int = 8, methods=None, ax=None, gap: int = 2):
    """The first `n` items each method queried at (seed, cycle), in stored order: one row per method, one
    mosaic image (tile (r, c) at x = c (w + gap), y = r (h + caption_band(h))); each tile captioned under it
    with its pool index and what the task knows of it (class, head count, visible joints), poses drawn
    on the crops. Dispatches on `data.task` (GALLERY_TILES)."""
    if data.task not in GALLERY_TILES:
        raise ValueError(f"no picture for task {data.task}; known: {', '.join(GALLERY_TILES)}")
    _check_indices(picks, data.n_pool)
    chosen = picks[(picks.seed == seed) & (picks.cycle == cycle)]
    methods = ordered(set(chosen.method)) if methods is None else [m for m in methods if m in set(chosen.method)]
    if not methods:
        raise ValueError(f"no method has picks at seed {seed}, cycle {cycle}")
    rows = [(m, _batch(chosen, m, seed, cycle)[:n]) for m in methods]
    tiles = {m: GALLERY_TILES[data.task](data, indices) for m, indices in rows}
    h, w = next(iter(tiles.values()))[0][0].shape[:2]
    band = caption_band(h)
    cols = max(len(indices) for _, indices in rows)
    mosaic = np.full((len(rows) * (h + band), cols * (w + gap), 3), 255, dtype=np.uint8)
    ax = ax or plt.subplots(figsize=(1.3 * cols + 1.5, 1.45 * len(rows) + 0.6))[1]
    for r, (method, _) in enumerate(rows):
        for c, image in enumerate(tiles[method][0]):
            mosaic[r * (h + band):r * (h + band) + h, c * (w + gap):c * (w + gap) + w] = image
    ax.imshow(mosaic, interpolation="nearest")
    for r, (method, indices) in enumerate(rows):
        _, captions, overlays = tiles[method]
        for c, (index, caption, overlay) in enumerate(zip(indices, captions, overlays)):
            x0, y0 = c * (w + gap), r * (h + band)
            ax.text(x0 + w / 2, y0 + h + 0.05 * band, f"#{index}\n{caption}", ha="center", va="top", fontsize=6)
            if overlay is not None and overlay[0] == "pose":
                _draw_pose(ax, overlay[1], overlay[2], x0, y0)
    colours = palette(methods)
    ax.set_xticks([])
    ax.set_yticks([r * (h + band) + h / 2 for r in range(len(rows))], [method_label(m) for m in methods])
    for label, method in zip(ax.get_yticklabels(), methods):
        label.set_color(colours[method])
    ax.set_xlim(-0.5, mosaic.shape[1] - 0.5)
    ax.set_ylim(mosaic.shape[0] - 0.5, -0.5)
    ax.set_title(f"First {cols} items each method queried at cycle {cycle}, seed {seed} (in the order stored;"
                 " #pool index)", fontsize=9)
    return ax


def batch_detail(picks: pd.DataFrame, data, method: str, seed: int, cycle: int) -> pd.DataFrame:
    """One method's batch at (seed, cycle), in stored order: pool index, what the task knows of the item
    (class, head count, visible joints; without `data`, the dataset not on disk, no such column) and which
    other methods picked it at the same seed and cycle."""
    indices = _batch(picks, method, seed, cycle)
    if not indices:
        raise ValueError(f"{method} has no picks at seed {seed}, cycle {cycle}")
    items = {}
    if data is not None:
        _check_indices(picks, data.n_pool)
        items["item"] = GALLERY_TILES[data.task](data, indices)[1]
    others = {m: set(_batch(picks, m, seed, cycle)) for m in ordered(set(picks.method) - {method})}
    also = [", ".join(method_label(m) for m, batch in others.items() if i in batch) for i in indices]
    frame = pd.DataFrame({"pool index": indices, **items, "also picked by": also},
                         index=pd.RangeIndex(1, len(indices) + 1, name="order"))
    frame.columns.name = f"{method_label(method)}, seed {seed}, cycle {cycle}"
    return frame


# --- true losses of the picks (the loss oracle, strategies/oracle_loss.py)


def oracle_agreement(table: pd.DataFrame, oracle: str = ORACLE_METHOD) -> pd.DataFrame:
    """Each method's Jaccard with the oracle's picks (`jaccard_summary` rows that involve it): how much
    of what a perfect loss ranker would query a method queried. Empty when the study has no oracle."""
    summary = jaccard_summary(table) if len(table) else pd.DataFrame(columns=["method_a", "method_b"])
    rows = summary[(summary.method_a == oracle) | (summary.method_b == oracle)].copy()
    rows.insert(0, "method", np.where(rows.method_a == oracle, rows.method_b, rows.method_a))
    return rows.drop(columns=["method_a", "method_b"]).reset_index(drop=True)


def true_loss_hook(picks: pd.DataFrame, out_dir: str | Path) -> str:
    """Where the comparison of the picks' true losses with the subset's goes. No study stores per-item
    true losses today; a study with an `oracle-loss` method gives `oracle_agreement` instead. Returns
    the line a report prints about it (nothing is made up in its place)."""
    if ORACLE_METHOD in set(picks.method):
        return (f"{ORACLE_METHOD} is in this study: the table below gives each method's Jaccard with its picks;"
                " the picks' true losses themselves are not stored by the study")
    return (f"true losses of the picks: not available in {Path(out_dir).name} (no per-item true losses stored and no"
            f" `{ORACLE_METHOD}` method, the loss oracle); the comparison of the picks' losses with the"
            " subset's needs a study that has them")


# --- one call for a notebook


def study_params(out_dir: str | Path, data_root: str = ""):
    """The `Params` of a study folder (its params.json), `data_root` overriding the recorded one when given."""
    raw = json.loads((Path(out_dir) / "params.json").read_text())
    return parse_params({**raw, **({"data_root": data_root} if data_root else {})})


def open_study(study_dir: str, data_root: str = ""):
    """For a notebook: run from the project root (papermill passes --cwd; Jupyter starts in notebooks/)
    and read the study's params -> (params, study folder)."""
    enter_project_root()
    out = Path(study_dir)
    if not (out / "params.json").is_file():
        raise FileNotFoundError(f"{out}/params.json not found: study_dir must be a study folder (outputs/<study>)")
    return study_params(out, data_root), out


def _show(thing) -> None:
    """Display a table or figure under a notebook cell (printed outside one); a figure is then closed,
    so that the inline backend does not draw it twice."""
    try:
        from IPython import get_ipython  # noqa: PLC0415
        from IPython.display import display  # noqa: PLC0415
        shell = get_ipython()
    except ImportError:
        shell = None
    if isinstance(thing, str):
        print(thing)
    elif shell is not None and isinstance(thing, pd.DataFrame):
        tables.show(thing)  # whole: a picks table has a row per method and cycle, past pandas' row limit
    elif shell is not None:
        display(thing)
    elif isinstance(thing, pd.DataFrame):
        print(thing.to_string())
    if isinstance(thing, plt.Figure):
        plt.close(thing)


def picks_section(out_dir: str | Path, params, data=None, seed: int | None = None, cycle: int | None = None,
                  n_images: int = 8, save: bool = True, show: bool = True, missing: str = "") -> dict:
    """The whole picks section of a study: tables and figures from its stored picks and its dataset
    (`data`, else loaded on the CPU from `params`: a `Params` or the dict of params.json). `missing`: why the
    dataset is not there (explore.dataset); then what needs it (classes, balance, pictures) is left out and
    the section says why, the overlap of the picks still shown. Figures are saved under out_dir/figures/
    (picks_classes, picks_balance, picks_jaccard, picks_gallery) unless `save` is False. The gallery shows
    `seed` (default: the first) at `cycle` (default: its last queried cycle). Returns the frames and the
    saved paths."""
    if isinstance(params, dict):
        params = parse_params(params)
    if data is None and not missing:
        data = load_dataset(params, "cpu")
    say = _show if show else (lambda thing: plt.close(thing) if isinstance(thing, plt.Figure) else None)
    picks = load_picks(out_dir)
    out = {"picks": picks, "figures": {}, "data": data}

    def figure(ax, name):
        if save:
            out["figures"][name] = save_figure(ax, out_dir, name)
        say(ax.figure)

    if data is None:
        say("The pictures of the picks (and for classification their classes and balance) need the dataset, which is"
            f" not here: {missing}")
    else:
        _check_indices(picks, data.n_pool)
    if data is not None and data.task == "classification":
        labels = pool_labels(data)
        k = int(data.num_classes or labels.max() + 1)
        names = class_names(data, k)
        hist = class_histogram(picks, labels, k)
        bal = balance(hist)
        pool = pool_entropy(labels, k)
        pool_share = np.bincount(labels, minlength=k) / len(labels)
        out.update(histogram=hist, histogram_table=histogram_table(hist, names), balance=bal, pool_entropy=pool,
                   balance_table=balance_table(bal, pool), class_names=names, pool_share=pool_share)
        say(out["histogram_table"])
        figure(class_histogram_plot(hist, pool_share=pool_share, names=names), "picks_classes")
        say(out["balance_table"])
        figure(balance_plot(bal, pool, num_classes=k), "picks_balance")
    elif data is not None:
        say(f"Class histograms and balance are drawn for classification; this study is {data.task.replace('_', ' ')}.")
    table = jaccard_table(picks)
    out["jaccard"] = table
    if len(table):
        chance = (chance_jaccard(params.query_size, params.subset_size)
                  if params.subset_size and params.query_size < params.subset_size else None)
        out["jaccard_table"] = jaccard_text_table(table)
        say(out["jaccard_table"])
        figure(jaccard_heatmap(table, chance=chance), "picks_jaccard")
    if data is not None:
        seed = int(picks.seed.min()) if seed is None else seed
        cycle = int(picks[picks.seed == seed].cycle.max()) if cycle is None else cycle
        figure(picks_gallery(picks, data, seed, cycle, n=n_images), "picks_gallery")
    out["true_loss_note"] = true_loss_hook(picks, out_dir)
    say(out["true_loss_note"])
    out["oracle_agreement"] = oracle_agreement(table)
    if len(out["oracle_agreement"]):
        say(out["oracle_agreement"])
    return out


__all__ = ["load_picks", "class_histogram", "histogram_table", "balance", "pool_entropy",
           "entropy_nats", "balance_table", "class_histogram_plot", "balance_plot", "jaccard", "jaccard_table",
           "jaccard_summary", "jaccard_matrix", "jaccard_text_table", "method_overlap", "chance_jaccard",
           "jaccard_heatmap",
           "picks_gallery", "batch_detail", "oracle_agreement", "true_loss_hook", "study_params", "open_study",
           "picks_section"]
