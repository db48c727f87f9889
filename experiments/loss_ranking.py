"""The loss-ranking experiment: which head and objective rank a target model's losses best?

    python experiments/loss_ranking.py [--params params/cifar10-smoke.yaml] [--seeds 10] [--out outputs/loss_ranking]
                                       [--device cpu] [--threads 1] [--data-root DIR] [--frozen-epochs N]

Per seed, one target model (the study's ResNet-18 of the params' width) is trained by the study's own
`train_cycle` on a random labeled set A of `max_labeled` images (the smoke profile's last labeled-set
size), for `epochs`. Every loss head (the L2R head, LossNet) x objective (losses.RANK_LOSSES) is then
trained, from the same initial weights per seed and head, on the same lists, in two settings:
- joint: the lists the study's head is trained on, i.e. at every step of the target's training the
  pooled block features and per-sample training losses of its batch (augmented, train mode), recorded
  while the target trains. The L2R-AL heads read detached features and draw no random numbers, so
  training a head on the recording is training it alongside the target, step for step. (LL4AL's own
  LossNet lets the margin loss into the target until `ll4al_detach_epoch`; here every head is an
  observer, so that one target serves all: LossNet x margin is LL4AL's head and loss, not its
  shared training.)
- frozen: the final target's features and true losses (eval mode, no augmentation) of a held-out
  labeled split B of the same size, in lists formed as the study forms them (a fresh order per epoch,
  the last partial list kept), for as many epochs (`--frozen-epochs` for more). The final target's
  losses on A itself are those of the samples it was fitted to: lower than the pool's (targets.csv),
  near zero at the paper's 150 epochs. B's are distributed as the pool's, so B is what "the labeled
  set's losses" can faithfully mean for a fixed model.
Both are measured on the final target's held-out pool (`subset_size` images: one query's subset) and
the test set: Spearman's rho and Kendall's tau-b between predicted and true losses, and the top-K
recall (share of the K truly highest-loss samples among the K predicted highest, K = `query_size`).
Beside them, on the L2R head: softrank at other temperatures and the sodeep objective with the `gru`
sorter kind, and each relaxation's own rank error on the head's final pool lists (the sorter's share
of any gap); and, as a reference without any head, the target's softmax entropy (what
the entropy strategy ranks by) as the predicted loss.

Each seed's target, recording and features are cached in <out>/cache/seed<k>.pt (git-ignored) and
reused while the params and sizes match, so a rerun retrains the heads only. The heads of all seeds
train together, one list per seed per step; the loss is summed over the lists, so each head gets exactly
its own list's gradient (Adam is elementwise). Writes to <out>: measurements.csv (per seed), summary.csv
(means and 95 % t-intervals), paired.csv (paired differences, t-tests), rank_error.csv, targets.csv,
provenance.json (commit, wall time, load, threads).
"""
from __future__ import annotations

import argparse
import os
import resource
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.stats
import torch

from l2ral_lib import files, outputs, provenance
from l2ral_lib.checks import load_params
from l2ral_lib.data import load_dataset
from l2ral_lib.heads import L2RHead, LossNet, global_average_pool
from l2ral_lib.losses import RANK_LOSSES, diffsort_ranks, soft_ranks, softrank_loss
from l2ral_lib.models import build_model
from l2ral_lib.precision import describe as describe_precision
from l2ral_lib.ranks import exact_ranks
from l2ral_lib.report import stats
# the heads, settings, splits, metrics and the paper's method, as the report that reads the tables names them
from l2ral_lib.report.loss_ranking import HEADS, METRICS, REFERENCE, SETTINGS, SPLITS
from l2ral_lib.study_folder import RESULT_COLUMNS
from l2ral_lib.seeds import derive_seed
from l2ral_lib.sorter import load_sorter
from l2ral_lib.strategies import Strategy
from l2ral_lib.strategies.loss_head import make_head_optimizer, make_objective
from l2ral_lib.tasks import get_task, spearman
from l2ral_lib.training import train_cycle

CACHE_VERSION = 1  # bump when what a cache file holds changes
SWEEP_TAUS = (0.03, 0.1, 1.0)  # softrank temperatures beside the default (losses.SOFTRANK_TAU)
FINAL_PARTS = ("train", "held", "pool", "test")  # A, B, the held-out pool, the test set
# what the splits, list orders and head weights are drawn from (with the seed): the name the experiment had
# when its tables were computed, kept so that a rerun draws the same numbers
SEED_LABEL = "ranking-bench"


# ---------------------------------------------------------------- the targets (cached per seed)

class Recorder(Strategy):
    """Trains nothing: keeps what a detached loss head would see at each training step, i.e. every
    block's pooled features and the per-sample training losses of the batch."""

    def __init__(self):
        self.features, self.losses, self.epochs = [], [], []

    def head_loss(self, output, per_sample_loss, epoch):
        self.features.append(torch.cat([global_average_pool(f.detach()) for f in output.features], 1).cpu())
        self.losses.append(per_sample_loss.detach().float().cpu())
        self.epochs.append(epoch)
        return None


@torch.no_grad()
def final_outputs(model, data, task, params, index=None) -> dict:
    """Pooled features (N, sum of channels), per-sample losses (N,), softmax entropies (N,) and whether
    each prediction is right (N,) of the trained model in eval mode, without augmentation, for pool items
    `index` (or the test set when None)."""
    model.eval()
    device = next(model.parameters()).device
    items = torch.arange(data.n_test, device=device) if index is None else index.to(device)
    features, losses, entropy, correct = [], [], [], []
    for start in range(0, len(items), params.eval_batch_size):
        chunk = items[start:start + params.eval_batch_size]
        inputs, targets = data.test_batch(chunk) if index is None else data.train_batch(chunk, augment=False)
        output = model(inputs)
        features.append(torch.cat([global_average_pool(f) for f in output.features], 1).cpu())
        losses.append(task.per_sample_loss(output.output, targets).float().cpu())
        entropy.append(task.entropy(output.output).float().cpu())
        correct.append((output.output.argmax(1) == targets).cpu())
    return {"features": torch.cat(features), "losses": torch.cat(losses), "entropy": torch.cat(entropy),
            "correct": torch.cat(correct)}


def splits(seed: int, n_pool: int, params) -> dict[str, torch.Tensor]:
    """Disjoint pool items: A (the target's labeled set), B (the frozen heads' labeled split) and the
    held-out pool the heads are measured on."""
    order = torch.randperm(n_pool, generator=torch.Generator().manual_seed(derive_seed(seed, SEED_LABEL)))
    size, pool = params.max_labeled, params.subset_size
    return {"train": order[:size], "held": order[size:2 * size], "pool": order[2 * size:2 * size + pool]}


def target(seed: int, params, data, task, device, cache: Path) -> dict:
    """Train (or load) the seed's target; -> its block widths, its recording and the final outputs of
    B, the pool and the test set."""
    key = {"version": CACHE_VERSION, "seed": seed, "params": {k: v for k, v in params.to_dict().items()
                                                              if k not in outputs.IGNORED_PARAMS}}
    file = cache / f"seed{seed}.pt"
    if file.is_file():
        cached = torch.load(file, weights_only=False)
        if cached["key"] == key:
            return cached
    parts = splits(seed, data.n_pool, params)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(derive_seed(seed, "model"))
        model = build_model(params, data).to(device)
    torch.manual_seed(derive_seed(seed, "cycle", 0))
    recorder = Recorder()
    train_cycle(model, recorder, data, task, parts["train"].to(device), params, where=f"loss ranking, seed {seed}",
                progress=False)
    result = {"key": key, "model": model.state_dict(), "channels": model.feature_channels,
              "joint": {"features": recorder.features, "losses": recorder.losses, "epochs": recorder.epochs},
              **{name: final_outputs(model, data, task, params, parts[name]) for name in FINAL_PARTS[:-1]},
              "test": final_outputs(model, data, task, params)}
    cache.mkdir(parents=True, exist_ok=True)
    files.atomic_torch_save(file, result)
    return result


# ---------------------------------------------------------------- the heads

def frozen_lists(seed: int, held: dict, params, epochs: int) -> dict:
    """Lists from the final target's held-out split B, formed as train_cycle forms its batches: a fresh
    random order per epoch, batch_size items each, the last partial list kept."""
    features, losses, epoch_of = [], [], []
    generator = torch.Generator().manual_seed(derive_seed(seed, SEED_LABEL, "frozen-order"))
    n = len(held["losses"])
    for epoch in range(epochs):
        order = torch.randperm(n, generator=generator)
        for start in range(0, n, params.batch_size):
            index = order[start:start + params.batch_size]
            features.append(held["features"][index])
            losses.append(held["losses"][index])
            epoch_of.append(epoch)
    return {"features": features, "losses": losses, "epochs": epoch_of}


def as_maps(features: torch.Tensor, channels: list[int]) -> list[torch.Tensor]:
    """(..., sum C) pooled features -> the heads' input, one (..., C_i, 1, 1) map per block: their
    global average pool returns the pooled values unchanged, so a head computes what it computes in a study."""
    return [part[..., None, None] for part in features.split(channels, -1)]


def build_heads(head: str, seeds: list[int], channels: list[int], params) -> list[torch.nn.Module]:
    """One head per seed, its initial weights drawn from (seed, head) only: every objective starts alike."""
    heads = []
    for seed in seeds:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(derive_seed(seed, SEED_LABEL, "head", head))
            heads.append(L2RHead(channels[-1], params.head_hidden) if head == "l2r" else LossNet(channels))
    return heads


def train_heads(heads, streams: list[dict], objective, channels, params) -> None:
    """Train head k on streams[k] (one list per step), every head in lockstep: the lists of a step have
    one length in all streams, so they stack; the summed loss gives each head its own list's gradient."""
    optimizer, scheduler = make_head_optimizer(params, [p for head in heads for p in head.parameters()])
    steps = len(streams[0]["losses"])
    for step in range(steps):
        if step and streams[0]["epochs"][step] != streams[0]["epochs"][step - 1]:
            scheduler.step()  # the study's end_epoch
        features = torch.stack([stream["features"][step] for stream in streams])  # (seeds, b, sum C)
        losses = torch.stack([stream["losses"][step] for stream in streams])  # (seeds, b)
        predicted = torch.stack([head(as_maps(f, channels)) for head, f in zip(heads, features)])
        loss = objective(predicted, losses)
        if loss is None:
            continue  # the study skips this batch for the head too (a sorter's list is full-length only)
        optimizer.zero_grad(set_to_none=True)
        (loss * len(heads)).backward()
        optimizer.step()


def objectives(params, device) -> dict:
    """Name -> (objective, relaxed-ranks function or None): the five of RANK_LOSSES, then the L2R-head
    sweep (softrank at other temperatures, the sodeep objective with the gru sorter kind)."""
    found = {name: make_objective(name, params, device, params.sorter_kind) for name in RANK_LOSSES}
    ranks = {"sodeep": load_sorter(params.batch_size, params.sorter_kind, device), "softrank": soft_ranks,
             "diffsort": diffsort_ranks}
    table = {name: (found[name], ranks.get(name)) for name in RANK_LOSSES}
    for tau in SWEEP_TAUS:
        table[f"softrank-tau{tau:g}"] = (lambda p, t, tau=tau: softrank_loss(p, t, tau) if t.shape[-1] >= 2 else None,
                                         lambda x, tau=tau: soft_ranks(x, tau))
    table["gru-sorter"] = (make_objective("sodeep", params, device, "gru"), load_sorter(params.batch_size, "gru", device))
    return table


def topk_recall(predicted: torch.Tensor, true: torch.Tensor, k: int) -> float:
    """Share of the k truly highest losses among the k highest predictions."""
    hits = np.intersect1d(torch.topk(predicted, k).indices.numpy(), torch.topk(true, k).indices.numpy())
    return len(hits) / k


def measure(predicted: torch.Tensor, true: torch.Tensor, k: int) -> dict[str, float]:
    return {"spearman": spearman(predicted, true),
            "kendall": float(scipy.stats.kendalltau(predicted.double().numpy(), true.double().numpy()).statistic),
            "topk_recall": topk_recall(predicted, true, k)}


@torch.no_grad()
def rank_error(ranks, predicted: torch.Tensor, d: int) -> float:
    """Mean |relaxed - exact rank| in positions over the head's pool predictions cut into lists of d."""
    lists = predicted[:len(predicted) // d * d].reshape(-1, d)
    return float((ranks(lists) - exact_ranks(lists)).abs().mean() * d)


def run_heads(targets: dict, params, frozen_epochs: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Every (setting, head, objective) on every seed -> (measurements, rank errors), tidy. On the CPU,
    where the cached features lie: the heads are small."""
    seeds = sorted(targets)
    channels = targets[seeds[0]]["channels"]
    streams = {"joint": [targets[s]["joint"] for s in seeds],
               "frozen": [frozen_lists(s, targets[s]["held"], params, frozen_epochs) for s in seeds]}
    rows, errors = [], []
    for name, (objective, ranks) in objectives(params, "cpu").items():
        for head in HEADS if name in RANK_LOSSES else ("l2r",):
            for setting in SETTINGS:
                heads = build_heads(head, seeds, channels, params)
                train_heads(heads, streams[setting], objective, channels, params)
                for seed, model in zip(seeds, heads):
                    with torch.no_grad():
                        predicted = {split: model(as_maps(targets[seed][split]["features"], channels))
                                     for split in SPLITS}
                    for split in SPLITS:
                        values = measure(predicted[split], targets[seed][split]["losses"], params.query_size)
                        rows += [dict(setting=setting, head=head, objective=name, seed=seed, split=split,
                                      metric=metric, value=value) for metric, value in values.items()]
                    if ranks is not None and head == "l2r":
                        errors.append(dict(setting=setting, head=head, objective=name, seed=seed,
                                           rank_error=rank_error(ranks, predicted["pool"], params.batch_size)))
            print(f"  {head} x {name} trained and measured ({time.strftime('%H:%M:%S')})", flush=True)
    for seed in seeds:  # the reference without a head: the target's own uncertainty, as the entropy strategy ranks
        for split in SPLITS:
            values = measure(targets[seed][split]["entropy"], targets[seed][split]["losses"], params.query_size)
            rows += [dict(setting=setting, head="target", objective="entropy", seed=seed, split=split, metric=metric,
                          value=value) for setting in SETTINGS for metric, value in values.items()]
    return pd.DataFrame(rows), pd.DataFrame(errors)


# ---------------------------------------------------------------- statistics

def as_study_table(measurements: pd.DataFrame, params) -> pd.DataFrame:
    """The stats module's tidy layout: one 'method' per head|objective, one cycle."""
    return measurements.assign(dataset=params.dataset, method=measurements["head"] + "|" + measurements.objective,
                               cycle=0, n_labeled=params.max_labeled)[RESULT_COLUMNS]


def summarise(measurements: pd.DataFrame, params) -> tuple[pd.DataFrame, pd.DataFrame]:
    """-> (per head x objective: mean and 95 % t-interval over seeds; paired differences to the
    reference, and of LossNet to the L2R head per objective), per setting, split and metric."""
    summaries, pairs = [], []
    for (setting, split), part in measurements.groupby(["setting", "split"]):
        table = as_study_table(part, params)
        for metric in METRICS:
            found = stats.method_summary(table, metric)
            summaries.append(found[found.quantity == "final"].assign(setting=setting, split=split))
            paired = stats.paired_differences(table, metric, REFERENCE)
            pairs.append(paired[paired.quantity == "final"].assign(setting=setting, split=split))
            for objective in RANK_LOSSES:  # the head's effect: LossNet (all blocks) against the L2R head (last block)
                if f"l2r|{objective}" == REFERENCE:
                    continue  # compared above already
                both = table[table.method.isin([f"l2r|{objective}", f"lossnet|{objective}"])]
                paired = stats.paired_differences(both, metric, f"l2r|{objective}")
                pairs.append(paired[paired.quantity == "final"].assign(setting=setting, split=split))
    keep = ["setting", "split", "metric", "method", "n_seeds", "mean", "sd", "ci_low", "ci_high"]
    summary = pd.concat(summaries, ignore_index=True)[keep]
    paired = pd.concat(pairs, ignore_index=True)[["setting", "split", "metric", "method", "reference", "n_seeds",
                                                  "mean_diff", "ci_low", "ci_high", "p_value", "verdict"]]
    return summary, paired


# ---------------------------------------------------------------- main

def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--params", default="params/cifar10-smoke.yaml", help="target model, sizes and training")
    parser.add_argument("--seeds", type=int, default=10, help="seeds 0..N-1 (default 10)")
    parser.add_argument("--out", default="outputs/loss_ranking")
    parser.add_argument("--device", default="cpu", help="where the targets train (the heads train on the CPU)")
    # one thread: on a shared 2-core machine more threads only contend (the target is width 16)
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads (default 1)")
    parser.add_argument("--data-root", help="override the params' data_root")
    parser.add_argument("--frozen-epochs", type=int, help="epochs over B in the frozen setting (default: the"
                                                           " params' epochs, as many lists as the joint setting)")
    args = parser.parse_args(argv)
    start, load_start = time.time(), os.getloadavg()
    torch.set_num_threads(args.threads)
    params = load_params(args.params, {"data_root": args.data_root} if args.data_root else None)
    out, device = Path(args.out), torch.device(args.device)
    out.mkdir(parents=True, exist_ok=True)
    data = load_dataset(params, device)
    if data.task != "classification":
        raise SystemExit(f"error: the experiment ranks a classifier's losses; {params.dataset} is a {data.task} task")
    task = get_task(data.task)
    needed = 2 * params.max_labeled + params.subset_size
    if needed > data.n_pool:
        raise SystemExit(f"error: the experiment needs {needed} pool images (2 x max_labeled + subset_size), "
                         f"{params.dataset} has {data.n_pool}")
    loaded = time.time()
    targets = {}
    for seed in range(args.seeds):
        targets[seed] = target(seed, params, data, task, device, out / "cache")
        accuracy = float(targets[seed]["test"]["correct"].float().mean() * 100)
        print(f"seed {seed}: target test accuracy {accuracy:.2f} % ({time.time() - start:.0f} s)", flush=True)
    trained = time.time()
    measurements, errors = run_heads(targets, params, args.frozen_epochs or params.epochs)
    summary, paired = summarise(measurements, params)
    measurements.to_csv(out / "measurements.csv", index=False)
    errors.to_csv(out / "rank_error.csv", index=False)
    summary.to_csv(out / "summary.csv", index=False)
    paired.to_csv(out / "paired.csv", index=False)
    pd.DataFrame([{"seed": s, **{f"{part}_size": len(t[part]["losses"]) for part in FINAL_PARTS},
                   **{f"{part}_accuracy": float(t[part]["correct"].float().mean() * 100) for part in FINAL_PARTS},
                   **{f"{part}_mean_loss": float(t[part]["losses"].mean()) for part in FINAL_PARTS},
                   "recorded_mean_loss": float(torch.cat(t["joint"]["losses"]).mean())}
                  for s, t in targets.items()]).to_csv(out / "targets.csv", index=False)
    usage = resource.getrusage(resource.RUSAGE_SELF)
    wall = time.time() - start
    files.atomic_write_json(out / "provenance.json", {
        **provenance.environment(device, describe_precision(params, device)), "command": " ".join(sys.argv), "params": args.params, "seeds": args.seeds,
        "frozen_epochs": args.frozen_epochs or params.epochs, "threads": args.threads,
        "batch_size": params.batch_size, "query_size": params.query_size,
        "wall_s": round(wall, 1), "phases_s": {"data": round(loaded - start, 1), "targets": round(trained - loaded, 1),
                                               "heads": round(time.time() - trained, 1)},
        "cpu_s": round(usage.ru_utime + usage.ru_stime, 1), "load_average_start": load_start,
        "load_average_end": os.getloadavg(), "nice": os.nice(0), "finished": provenance.timestamp(time.time())})
    pd.set_option("display.width", 200)
    shown = summary[(summary.split == "pool")].pivot_table(index="method", columns=["setting", "metric"], values="mean")
    print(shown.round(3).to_string())
    print(f"wrote {out}: {wall:.0f} s wall, {usage.ru_utime + usage.ru_stime:.0f} s CPU")
    return 0


if __name__ == "__main__":
    sys.exit(main())
