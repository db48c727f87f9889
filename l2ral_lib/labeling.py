"""The labeling round trip: which of your images to label next.

    python -m l2ral_lib query --images DIR --labels labels.csv --budget K --strategy NAME --out next.csv

The pool is every image under DIR (sub-folders included, hidden files skipped), in sorted relative-path
order; labels.csv (`path,label`, paths relative to DIR, labels any strings) says which are labeled; `--classes` lists every label there is, where some class has
no labeled image yet or a misspelt label must be refused.
The model trains on the labeled images as one cycle of a study does (built and seeded as a study's slice:
loop.build_slice, seeds.py's rule; trained by training.train_cycle), then the strategy scores the
unlabeled images -- all of them, or a random `--subset` of them -- and picks K (loop.checked_query).
next.csv lists them as `path,score,rank` (rank 1 first; score empty for strategies that pick without a
per-image score: random, coreset, vaal, badge). Label them, append them to labels.csv, query again.

The same images, labels, params and `--seed` give the same picks on the same machine (the numerics rule of
docs/reproducibility.md). Every input is checked before any training, and nothing is written unless the
query finishes: a bad input is one line naming it.
"""
from __future__ import annotations

import csv
import io
from pathlib import Path

import torch

from .checks import check_study, from_dict
from .config import Params, resolve_yaml
from .data.image_folder import list_images, read_labels_csv
from .data.own_images import image_data
from .devices import resolve_device
from .errors import DataError, ParamsError
from .files import atomic_write_text
from .loop import build_slice, checked_query
from .precision import configure_backends
from .registry import did_you_mean
from .seeds import derive_seed, query_subset
from .strategies import QueryContext, get_strategy, list_strategies
from .strategies.loss_head import sorters_used
from .tasks import get_task
from .training import train_cycle

# Defaults for small image data trained in a minute or two on a CPU; `--params FILE` and `--set KEY=VALUE`
# change any of them. ResNet-18 (3x3 stem) at a quarter width on 32x32 images, 10 epochs, batch 32 (a
# shipped sorter length, so that l2r trains its head), a small VAE for vaal.
DEFAULTS = {"study": "query", "model": "resnet18", "model_width": 16, "image_size": 32, "epochs": 10,
            "batch_size": 32, "eval_batch_size": 256, "vaal_width": 16, "vaal_iterations": 100}
# where neither the file nor --set gives them: the lr x0.1 and LL4AL's detach at 0.8 of the epochs (the
# paper profile's 120 of 150), so that changing the epochs alone stays valid
LATE_FRACTION = 0.8
UNLABELED = -1  # the label of an unlabeled pool image: a loss that read it would fail, not learn from it


def query_params(images: Path, strategy: str, seed: int, n_labeled: int, budget: int, subset: int | None,
                 params_file: str | None, overrides: dict) -> Params:
    """DEFAULTS, then the params file, then `--set`, then what the command line fixes (the strategy, seed
    and sizes), checked as a study's params are."""
    raw = {**DEFAULTS, **(resolve_yaml(params_file) if params_file else {}), **overrides}
    if isinstance(raw["epochs"], int):  # else from_dict names the key
        late = int(LATE_FRACTION * raw["epochs"])
        raw.setdefault("lr_milestones", [max(1, late)])
        raw.setdefault("ll4al_detach_epoch", late)
    raw.update(dataset="image-csv", data_root=str(images), strategies=[strategy], seeds=[seed], strategy_seeds={},
               initial_labeled=n_labeled, query_size=budget, max_labeled=n_labeled + budget, subset_size=subset)
    return from_dict(raw)


def read_labeled(images: Path, labels: Path, classes: list[str] | None = None) -> tuple[list[Path], dict[str, str]]:
    """-> (the pool: every image under `images`, in order; relative path -> label of the labeled ones).
    Where `classes` names the labels there are, any other label is refused (a typo would be a new class)."""
    if not images.is_dir():
        raise DataError(f"{images} not found: --images names the folder of images to label")
    pool = list_images(images)
    if not pool:
        raise DataError(f"{images} holds no images (any format Pillow reads, in it or its sub-folders)")
    files, names = read_labels_csv(labels, images)
    if not files:
        raise DataError(f"{labels} lists no labeled images; label a few first (any, e.g. chosen at random)")
    in_pool = {path.relative_to(images).as_posix() for path in pool}
    labeled = {}
    for file, name in zip(files, names):
        relative = file.relative_to(images).as_posix()
        if relative not in in_pool:
            raise DataError(f"{labels}: '{relative}' is not an image of the pool under {images}")
        if classes is not None and name not in classes:
            raise DataError(f"{labels}: the label '{name}' of '{relative}' is not one of --classes"
                            f" ({','.join(classes)}): correct it, or add it to --classes")
        labeled[relative] = name
    return pool, labeled


def check_arguments(strategy: str, budget: int, subset: int | None, n_unlabeled: int, images: Path, labels: Path,
                    out: Path) -> None:
    known = list_strategies()
    if strategy not in known:
        raise ParamsError("--strategy", f"unknown strategy '{strategy}'{did_you_mean(strategy, known)}; known:"
                                        f" {', '.join(known)}")
    if get_strategy(strategy).oracle:
        raise ParamsError("--strategy", f"{strategy} reads the labels of the unlabeled images: a bound in a study, no"
                                        " way to choose what to label")
    if not 0 < budget <= n_unlabeled:
        raise ParamsError("--budget", f"{budget} images asked for, and {images} holds {n_unlabeled} unlabeled ones")
    if subset is not None and subset < budget:
        raise ParamsError("--subset", f"({subset}) is smaller than --budget ({budget}): the query could not be filled")
    if not out.parent.is_dir():
        raise ParamsError("--out", f"{out.parent} is no folder to write {out.name} into")
    if out.resolve() == labels.resolve():
        raise ParamsError("--out", f"{out} is the labels file: the picks would replace the labels")


def query(images: str | Path, labels: str | Path, budget: int, strategy: str, out: str | Path, seed: int = 0,
          subset: int | None = None, params_file: str | None = None, overrides: dict | None = None,
          device: str = "auto", progress: bool = True, classes: list[str] | None = None) -> str:
    """Train on the labeled images, pick `budget` unlabeled ones with `strategy`, write them to `out`
    (path,score,rank). `classes`: every label there is (default: those labels.csv holds), so that a
    class nobody has labeled yet has its output and a misspelt label is refused. -> a one-line summary.
    Every check comes before the training (module docstring)."""
    images, labels, out = Path(images), Path(labels), Path(out)
    if classes is not None and (not classes or len(set(classes)) < len(classes) or not all(classes)):
        raise ParamsError("--classes", f"'{','.join(classes)}' must name each class once, comma-separated")
    pool, labeled_names = read_labeled(images, labels, classes)
    check_arguments(strategy, budget, subset, len(pool) - len(labeled_names), images, labels, out)
    params = query_params(images, strategy, seed, len(labeled_names), budget, subset, params_file, overrides or {})
    if sorters_used(params) and len(labeled_names) < params.batch_size:
        raise ParamsError("batch_size", f"{strategy} trains its head through the sorter on full batches of"
                                        f" {params.batch_size}, and {len(labeled_names)} images are labeled: label"
                                        " more, or set a smaller shipped sorter length (--set batch_size=4)")
    run_on = resolve_device(device)
    configure_backends(params, run_on)
    classes = sorted(set(classes if classes is not None else labeled_names.values()))
    class_of = {name: k for k, name in enumerate(classes)}
    relative = [path.relative_to(images).as_posix() for path in pool]
    targets = [class_of[labeled_names[r]] if r in labeled_names else UNLABELED for r in relative]
    data = image_data("labeling", (pool, targets), ([], []), classes, params, run_on)
    check_study(params, run_on, data=data)
    # in pool order, whatever the order of labels.csv
    labeled = torch.tensor([i for i, r in enumerate(relative) if r in labeled_names], device=run_on)

    model, chooser = build_slice(params, data, run_on, strategy, seed)
    task = get_task(data.task)
    torch.manual_seed(derive_seed(seed, "cycle", 0))
    train_cycle(model, chooser, data, task, labeled, params, where=f"query {strategy}, seed {seed}", progress=progress)
    candidates = query_subset(seed, 0, labeled, data.n_pool, subset).to(run_on)
    ctx = QueryContext(model=model, data=data, task=task, params=params, labeled=labeled, subset=candidates,
                       seed=derive_seed(seed, "query", 0))
    picks = checked_query(chooser, ctx, budget)
    # float32 scores as their shortest exact text (a zero unsigned); none where the strategy picks without scores
    scores = [str(s + 0) for s in ctx.scores[picks].cpu().numpy()] if ctx.scores is not None else [""] * budget
    table = io.StringIO()
    writer = csv.writer(table, lineterminator="\n")
    writer.writerow(["path", "score", "rank"])
    writer.writerows([relative[i], score, rank]
                     for rank, (i, score) in enumerate(zip(candidates[picks].tolist(), scores), start=1))
    atomic_write_text(out, table.getvalue())
    return (f"{out}: the {budget} of {len(candidates)} unlabeled images {strategy} picks (trained on"
            f" {len(labeled)} labeled images of {len(classes)} classes, seed {seed})")
