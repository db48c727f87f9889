"""The shipped sorter weights (`l2ral_lib/sorter_weights/<kind>-<n>.pt`, the training record beside them
as .json): where they lie, their hashes, saving and loading the frozen sorter."""
from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

import torch
from torch import nn

from ..files import atomic_torch_save, atomic_write_json, file_sha256
from .nets import DEFAULT_KIND, FrozenSorter, build_sorter, check_kind

WEIGHTS_DIR = Path(__file__).resolve().parents[1] / "sorter_weights"


def weights_path(seq_len: int, kind: str = DEFAULT_KIND) -> Path:
    """Where the shipped weights for (seq_len, kind) live; the training record is the .json beside
    them, the resumable training state (sodeep) the .ckpt."""
    return WEIGHTS_DIR / f"{kind}-{seq_len}.pt"


def available_sorter_lengths(kind: str = DEFAULT_KIND) -> list[int]:
    """Sequence lengths with shipped weights for `kind`, ascending."""
    stems = (p.stem.rpartition("-") for p in WEIGHTS_DIR.glob(f"{kind}-*.pt"))
    return sorted(int(n) for prefix, _, n in stems if prefix == kind and n.isdigit())


def weights_hash(seq_len: int, kind: str = DEFAULT_KIND) -> str:
    """sha256 (hex) of the shipped weights file of (seq_len, kind): what a study records to say which
    sorter it used."""
    return file_sha256(_existing_weights(seq_len, kind))


class MissingSorterError(FileNotFoundError):
    """No shipped weights for the requested sequence length and kind."""


def _existing_weights(seq_len: int, kind: str) -> Path:
    check_kind(kind)
    path = weights_path(seq_len, kind)
    if not path.is_file():
        raise MissingSorterError(f"no pretrained {kind} sorter for length {seq_len} ({path} missing); train one with"
                                 f" `python -m l2ral_lib sorter --kind {kind} --seq-len {seq_len}`")
    return path


def save_sorter(net: nn.Module, record: dict, out: Path) -> None:
    """Weights to `out` (.pt), the training record beside it (.json); each written atomically."""
    out.parent.mkdir(parents=True, exist_ok=True)
    atomic_torch_save(out, {"kind": record["kind"], "config": net.config, "seq_len": record["seq_len"],
                            "state_dict": net.state_dict()})
    atomic_write_json(out.with_suffix(".json"), record)


@lru_cache(maxsize=None)
def _load(seq_len: int, kind: str, device: str) -> FrozenSorter:
    saved = torch.load(_existing_weights(seq_len, kind), map_location="cpu", weights_only=True)
    # building the network draws initial weights from the global RNG; loading must leave the
    # caller's random stream alone, or a study's randomness would depend on when the cache filled
    with torch.random.fork_rng(devices=[]):
        net = build_sorter(saved["kind"], **saved["config"])
    net.load_state_dict(saved["state_dict"])
    return FrozenSorter(net, seq_len).to(device)


def load_sorter(seq_len: int, kind: str = DEFAULT_KIND, device=None) -> FrozenSorter:
    """The shipped, frozen sorter for lists of `seq_len` items, (B, seq_len) -> (B, seq_len).
    Cached per (seq_len, kind, device): callers share one module, which is safe since it is frozen."""
    check_kind(kind)
    return _load(int(seq_len), kind, str(torch.device(device or "cpu")))


def sorter_training(length: int, kind: str) -> dict:
    """How far the shipped sorter of (length, kind) was trained, from its training record (.json): the
    epochs trained (`epochs_reached`), the recipe's target, the epoch of the shipped (best validated)
    weights and the learning rates it trained at. {} for a record that counts no epochs (the gru kind)."""
    record_file = weights_path(length, kind).with_suffix(".json")
    record = json.loads(record_file.read_text()) if record_file.is_file() else {}
    if "epochs_target" not in record:
        return {}
    return {"epochs_trained": record["epochs_reached"], "epochs_target": record["epochs_target"],
            "weights_epoch": record["best"]["epoch"], "lrs": sorted({point["lr"] for point in record["history"]})}
