"""Pretraining the sorters: the project's `gru` kind, SoDeep's recipe for the `sodeep` kind (resumable:
the full recipe takes hours to days on a CPU), and the `python -m l2ral_lib sorter` command."""
from __future__ import annotations

import argparse
import dataclasses
import math
import sys
import time
from pathlib import Path

import torch
from torch import nn
from torch.nn import functional as F

from ..files import atomic_torch_save
from ..provenance import git_commit
from ..ranks import exact_ranks
from .nets import DEFAULT_KIND, KINDS, FrozenSorter, build_sorter
from .quality import FAMILY_SETS, evaluate_sorter, rank_quality
from .synthetic import FAMILIES, SODEEP_TYPES, VALIDATION_SEED, mixed_batch, sodeep_batch
from .weights import WEIGHTS_DIR, save_sorter, weights_path


# ---------------------------------------------------------------- training the gru kind

def train_gru(seq_len: int, steps: int = 2400, batch: int = 128, lr: float = 3e-3, seed: int = 0,
              out: str | Path | None = None, log=print):
    """Pretrain a `gru` sorter for lists of `seq_len` on fresh synthetic batches of the project's
    families (L1 on normalised ranks, Adam, cosine decay to zero, gradient norm clipped at 1).
    -> (FrozenSorter, training record); with `out` (a .pt path), the weights go there and the
    record beside them as .json."""
    torch.manual_seed(seed)
    generator = torch.Generator().manual_seed(2 * seed + 2)  # even: never VALIDATION_SEED
    net = build_sorter("gru")
    optimizer = torch.optim.Adam(net.parameters(), lr=lr)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=steps)
    start = time.time()
    for step in range(steps):
        x = mixed_batch(batch, seq_len, generator)
        loss = F.l1_loss(net(x), exact_ranks(x))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        nn.utils.clip_grad_norm_(net.parameters(), 1.0)
        optimizer.step()
        schedule.step()
        if step % max(1, steps // 20) == 0 or step == steps - 1:
            log(f"seq_len {seq_len} step {step + 1}/{steps} L1 {loss.item():.4f} ({time.time() - start:.0f} s)")
    wall = time.time() - start
    sorter = FrozenSorter(net, seq_len)
    record = {"kind": "gru", "seq_len": seq_len, "architecture": net.config, "features": "z, tanh(z), asinh(robust z)",
              "steps": steps, "batch": batch, "lr": lr, "seed": seed, "loss": "L1 on normalised ranks",
              "optimizer": "Adam, cosine decay to 0, grad-norm clip 1", "families": list(FAMILIES),
              "wall_s": round(wall, 1), "torch_threads": torch.get_num_threads(), "torch": torch.__version__,
              "validation": evaluate_sorter(sorter, seq_len)}
    if out is not None:
        save_sorter(net, record, Path(out))
    return sorter, record


# ---------------------------------------------------------------- training the sodeep kind

@dataclasses.dataclass(frozen=True)
class SoDeepRecipe:
    """technicolor-research/sodeep train.py defaults, except the list length (paper: 64, 32, 4) and the
    held-out set, which is fixed here (VALIDATION_SEED) so that the quality curve compares epochs."""
    seq_len: int
    epochs: int = 400  # -mepoch; the paper: "400 epochs"
    batch: int = 256  # -bs
    lr: float = 1e-3  # -lr, Adam
    lr_step: int = 70  # -lrs: StepLR(optimizer, 70, 0.5)
    lr_gamma: float = 0.5
    samples_per_epoch: int = 360_000  # SeqDataset(nb_sample=400000): 90% train, 10% validation
    val_size: int = 40_000
    seed: int = 0
    checkpoint_every: int = 200  # optimizer steps between checkpoints (SoDeep: one per epoch)

    @property
    def steps_per_epoch(self) -> int:
        return math.ceil(self.samples_per_epoch / self.batch)  # the DataLoader keeps the last, smaller batch

    def batch_size(self, step: int) -> int:
        return min(self.batch, self.samples_per_epoch - step * self.batch)

    def lr_at(self, epoch: int) -> float:
        """train.py calls lr_scheduler.step() at the start of every epoch, after the constructor's own
        step: epoch e (from 0) runs at lr * gamma ** ((e + 1) // lr_step), first halved in epoch 69."""
        return self.lr * self.lr_gamma ** ((epoch + 1) // self.lr_step)

    def resumable_with(self, other: "SoDeepRecipe") -> bool:
        """A checkpoint continues under a recipe that differs at most in the epoch target."""
        return dataclasses.replace(self, epochs=other.epochs) == other


SODEEP_REFERENCE = ("technicolor-research/sodeep @ 0c0ee31: model.py gru_constrained, dataset.py get_rand_seq and"
                    " SeqDataset, train.py (Adam, StepLR, nn.L1Loss, best validation epoch kept)")


def checkpoint_path(out: Path) -> Path:
    return Path(out).with_suffix(".ckpt")


def _fresh_state(recipe: SoDeepRecipe) -> dict:
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(recipe.seed)
        net = build_sorter("sodeep")
    return {"recipe": dataclasses.asdict(recipe), "net": net.state_dict(), "optimizer": None,
            "generator": torch.Generator().manual_seed(2 * recipe.seed + 2).get_state(),  # even: never VALIDATION_SEED
            "epoch": 0, "step": 0, "steps_total": 0, "epoch_loss_sum": 0.0, "last_train_l1": None, "wall_s": 0.0,
            "history": [], "best": None, "segments": []}


def sodeep_held_out(recipe: SoDeepRecipe) -> torch.Tensor:
    """(val_size, seq_len): the fixed held-out vectors of the quality curve, SoDeep's type mix."""
    generator = torch.Generator().manual_seed(VALIDATION_SEED)
    types = torch.randint(0, len(SODEEP_TYPES), (recipe.val_size,), generator=generator)
    return sodeep_batch(types, recipe.seq_len, generator)


def train_sodeep(recipe: SoDeepRecipe, out: str | Path, resume: bool = False, max_minutes: float | None = None,
                 max_steps: int | None = None, device: str | torch.device = "cpu", log=print) -> dict:
    """Train (or, with `resume`, continue) a `sodeep` sorter by SoDeep's recipe until `recipe.epochs`,
    or until this call has run `max_minutes` or `max_steps`. The state goes to `<out>.ckpt` every
    `checkpoint_every` steps, at every epoch end and at the stop, so a killed run loses little; the
    weights of the best validated point (SoDeep keeps its best validation epoch; here a stop inside an
    epoch is a validated point too) go to `out` with the training record beside it. The vectors are
    drawn on the CPU whatever the `device`, so a run continues the same data stream anywhere. -> the record."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    if resume:
        state = torch.load(checkpoint_path(out), map_location="cpu", weights_only=True)
        if not SoDeepRecipe(**state["recipe"]).resumable_with(recipe):
            raise ValueError(f"{checkpoint_path(out)} was trained with {state['recipe']},"
                             f" not {dataclasses.asdict(recipe)}")
        state["recipe"] = dataclasses.asdict(recipe)  # a new epoch target is allowed
    else:
        state = _fresh_state(recipe)
    net = build_sorter("sodeep")
    net.load_state_dict(state["net"])
    net.to(device)
    optimizer = torch.optim.Adam(net.parameters(), lr=recipe.lr)
    if state["optimizer"] is not None:
        optimizer.load_state_dict(state["optimizer"])
    generator = torch.Generator()
    generator.set_state(state["generator"])
    held_out = sodeep_held_out(recipe).to(device)
    segment = {"commit": git_commit(), "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "steps": 0, "wall_s": 0.0,
               "device": str(device), "torch_threads": torch.get_num_threads(), "torch": str(torch.__version__)}
    state["segments"].append(segment)
    start, begun, earlier_wall = time.time(), state["steps_total"], state["wall_s"]

    def save_checkpoint():
        segment.update(steps=state["steps_total"] - begun, wall_s=round(time.time() - start, 1))
        state.update(net=net.state_dict(), optimizer=optimizer.state_dict(), generator=generator.get_state(),
                     wall_s=round(earlier_wall + time.time() - start, 1))
        atomic_torch_save(checkpoint_path(out), state)

    def validate():
        """A point of the quality curve; the best so far becomes the exported weights."""
        net.eval()
        quality = rank_quality(net, held_out)
        net.train()
        epochs = state["epoch"] + state["step"] / recipe.steps_per_epoch
        point = {"epoch": round(epochs, 4), "steps": state["steps_total"], "lr": optimizer.param_groups[0]["lr"],
                 "train_l1": state["epoch_loss_sum"] / state["step"] if state["step"] else state["last_train_l1"],
                 "val_l1": quality["l1"], "val_spearman": quality["spearman"],
                 "wall_s": round(earlier_wall + time.time() - start, 1)}
        state["history"].append(point)
        log(f"sodeep-{recipe.seq_len} epoch {epochs:.3f}/{recipe.epochs}: train L1 {point['train_l1'] or math.nan:.4f},"
            f" held-out L1 {quality['l1']:.4f}, Spearman {quality['spearman']:.4f} ({time.time() - start:.0f} s)")
        if state["best"] is None or quality["l1"] < state["best"]["val_l1"]:
            state["best"] = {"epoch": point["epoch"], "val_l1": quality["l1"], "val_spearman": quality["spearman"],
                             "state_dict": {k: v.clone() for k, v in net.state_dict().items()}}

    def stop() -> bool:
        return (max_steps is not None and state["steps_total"] - begun >= max_steps) or (
            max_minutes is not None and time.time() - start >= 60 * max_minutes)

    net.train()
    while state["epoch"] < recipe.epochs and not stop():
        for group in optimizer.param_groups:
            group["lr"] = recipe.lr_at(state["epoch"])
        while state["step"] < recipe.steps_per_epoch and not stop():
            x = sodeep_batch(torch.randint(0, len(SODEEP_TYPES), (recipe.batch_size(state["step"]),),
                                           generator=generator), recipe.seq_len, generator).to(device)
            loss = F.l1_loss(net(x), exact_ranks(x))
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            state["epoch_loss_sum"] += loss.item()
            state["step"] += 1
            state["steps_total"] += 1
            if state["steps_total"] % recipe.checkpoint_every == 0:
                save_checkpoint()
        if state["step"] == recipe.steps_per_epoch:  # an epoch ends: validate, as train.py does
            state.update(epoch=state["epoch"] + 1, step=0, epoch_loss_sum=0.0,
                         last_train_l1=state["epoch_loss_sum"] / recipe.steps_per_epoch)
            validate()
            save_checkpoint()
    if state["best"] is None or state["history"][-1]["steps"] != state["steps_total"]:
        validate()  # stopped inside an epoch (or before any step)
    save_checkpoint()
    return export_sodeep(state, out)


def export_sodeep(state: dict, out: Path) -> dict:
    """The best validated weights to `out`, the training record beside it. -> the record."""
    recipe = SoDeepRecipe(**state["recipe"])
    net = build_sorter("sodeep")
    net.load_state_dict(state["best"]["state_dict"])
    sorter = FrozenSorter(net, recipe.seq_len)
    reached = state["epoch"] + state["step"] / recipe.steps_per_epoch
    record = {
        "kind": "sodeep", "seq_len": recipe.seq_len, "architecture": net.config, "reference": SODEEP_REFERENCE,
        "recipe": {**dataclasses.asdict(recipe), "steps_per_epoch": recipe.steps_per_epoch, "optimizer": "Adam",
                   "schedule": "lr * 0.5 ** ((epoch + 1) // 70) (StepLR stepped at each epoch start)",
                   "loss": "L1 between the output and exact_ranks", "data": "SoDeep's ten types, one per vector"},
        "epochs_reached": round(reached, 4), "epochs_target": recipe.epochs, "complete": reached >= recipe.epochs,
        "steps": state["steps_total"], "wall_s": state["wall_s"],
        "best": {k: v for k, v in state["best"].items() if k != "state_dict"},
        "history": state["history"], "segments": state["segments"],
        "resume": f"python -m l2ral_lib sorter --kind sodeep --seq-len {recipe.seq_len} --resume --force",
        "validation": {families: evaluate_sorter(sorter, recipe.seq_len, families=families)
                       for families in FAMILY_SETS},
    }
    save_sorter(net, record, out)
    return record


# ---------------------------------------------------------------- command line

def _print_quality(validation: dict) -> None:
    for family, quality in validation.items():
        print(f"  {family:30s} Spearman {quality['spearman']:.4f}"
              f"  mean |rank error| {quality['mean_abs_rank_error']:.3f}")


def main(argv: list[str]) -> int:
    """`python -m l2ral_lib sorter --seq-len N ...`: pretrain (or continue), save, print the quality tables.
    Existing weights are never overwritten without --force; those shipped with the package are read-only
    even for --resume, which writes where it reads."""
    parser = argparse.ArgumentParser(prog="python -m l2ral_lib sorter", description="pretrain a differentiable sorter")
    parser.add_argument("--seq-len", type=int, required=True, help="list length (= the study's batch size)")
    parser.add_argument("--kind", default=DEFAULT_KIND, choices=KINDS, help=f"default {DEFAULT_KIND} (the paper's)")
    parser.add_argument("--out", type=Path, help=f"weights file (default {WEIGHTS_DIR}/<kind>-<seq-len>.pt)")
    parser.add_argument("--force", action="store_true", help="overwrite existing weights, shipped ones included")
    parser.add_argument("--seed", type=int, default=0)
    # one thread: the GRU's small matrices gain little from more, and oversubscribed cores lose a lot
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads (default 1)")
    sodeep = parser.add_argument_group("sodeep kind (SoDeep's train.py recipe)")
    sodeep.add_argument("--epochs", type=int, default=400, help="epoch target (default 400, the paper's)")
    sodeep.add_argument("--max-minutes", type=float,
                        help="stop this run after M minutes (checkpointed; --resume goes on)")
    sodeep.add_argument("--resume", action="store_true", help="continue from the checkpoint <out>.ckpt")
    sodeep.add_argument("--device", default="cpu", help="cpu (default) | cuda | cuda:N")
    sodeep.add_argument("--samples-per-epoch", type=int, default=SoDeepRecipe.samples_per_epoch,
                        help="vectors per epoch (default SoDeep's 360000; smaller only for smoke tests)")
    gru = parser.add_argument_group("gru kind")
    gru.add_argument("--steps", type=int, default=2400)
    gru.add_argument("--batch", type=int, default=128)
    gru.add_argument("--lr", type=float, default=3e-3)
    args = parser.parse_args(argv)
    if args.seq_len < 1 or args.steps < 1 or args.epochs < 1 or args.samples_per_epoch < 1:
        parser.error("--seq-len, --steps, --epochs and --samples-per-epoch must be >= 1")
    if args.kind == "gru" and (args.resume or args.max_minutes is not None or args.device != "cpu"):
        parser.error("--resume, --max-minutes and --device apply to --kind sodeep")
    out = args.out or weights_path(args.seq_len, args.kind)
    shipped = out.resolve().parent == WEIGHTS_DIR
    existing = [p for p in (out, checkpoint_path(out)) if p.exists()]
    if existing and not args.force and (shipped or not args.resume):
        what = "shipped weights are read-only" if shipped else "it would be overwritten"
        print(f"error: {existing[0]} exists ({what}); pass --force to overwrite it{' or continue it' * args.resume}, or"
              f" --out PATH to write elsewhere", file=sys.stderr)
        return 2
    if args.resume and not checkpoint_path(out).is_file():
        # the wheel leaves the checkpoints out (pyproject.toml): continuing a shipped sorter is a checkout's job
        where = "; the shipped sorters' checkpoints are in a checkout of the project" if shipped else ""
        print(f"error: no checkpoint {checkpoint_path(out)} to resume{where}; drop --resume to start afresh",
              file=sys.stderr)
        return 2
    torch.set_num_threads(args.threads)
    if args.kind == "gru":
        _, record = train_gru(args.seq_len, steps=args.steps, batch=args.batch, lr=args.lr, seed=args.seed, out=out)
        _print_quality(record["validation"])
        print(f"wrote {out} and {out.with_suffix('.json')} ({record['wall_s']} s)")
        return 0
    recipe = SoDeepRecipe(args.seq_len, epochs=args.epochs, samples_per_epoch=args.samples_per_epoch, seed=args.seed)
    try:
        record = train_sodeep(recipe, out, resume=args.resume, max_minutes=args.max_minutes, device=args.device,
                              log=lambda line: print(line, flush=True))  # flushed: runs go to a log in the background
    except ValueError as error:  # a checkpoint of another recipe
        print(f"error: {error}", file=sys.stderr)
        return 2
    for families, validation in record["validation"].items():
        print(f"{families} families:")
        _print_quality(validation)
    print(f"wrote {out}, {out.with_suffix('.json')} and {checkpoint_path(out)}: {record['epochs_reached']} of"
          f" {record['epochs_target']} epochs ({record['wall_s']} s in all)")
    if not record["complete"]:
        print(f"continue with: python -m l2ral_lib sorter --kind sodeep --seq-len {args.seq_len} --resume"
              + (" --force" if shipped else f" --out {out}"))
    return 0
