"""The randomness rule that makes the methods of a study comparable: the one place it is stated
(tests/test_seeds.py pins it). Every draw derives from (seed, purpose[, cycle]) through `derive_seed`:
- "initial": the initial labeled set -- shared by every method of a seed;
- "model" / ("head", method): the initial weights of the target model (shared by every method) and of
  the strategy's own nets, drawn inside `Study.build` under a forked generator, so building a model
  never moves the training stream;
- ("subset", cycle): one random order of the pool per (seed, cycle); each method scores the first
  `subset_size` of its own unlabeled items in that order (identical sets while the labeled sets
  agree), and `random` labels the first `query_size` of them;
- ("cycle", cycle): the global generator is reseeded at the start of each cycle, after any rebuild;
  training (batch order, augmentation, dropout) and the query's own draws consume it. It is not keyed
  by method: methods with the same labeled set train identically (cycle 0 above all), and it differs
  from cycle to cycle.
A resumed slice therefore continues exactly where it stopped: the state after each cycle (model,
head, labeled set, result rows) is saved atomically and the next cycle reseeds from (seed, cycle).
"""
from __future__ import annotations

import hashlib

import torch


def derive_seed(*parts) -> int:
    """A 63-bit seed from any parts; stable across runs, machines and Python versions."""
    return int.from_bytes(hashlib.sha256(repr(parts).encode()).digest()[:8], "little") >> 1


def initial_labeled_set(seed: int, n_pool: int, size: int) -> torch.Tensor:
    generator = torch.Generator().manual_seed(derive_seed(seed, "initial"))
    return torch.randperm(n_pool, generator=generator)[:size]


def query_subset(seed: int, cycle: int, labeled: torch.Tensor, n_pool: int, subset_size: int | None) -> torch.Tensor:
    """The first `subset_size` unlabeled pool items in this (seed, cycle)'s shared random order."""
    order = torch.randperm(n_pool, generator=torch.Generator().manual_seed(derive_seed(seed, "subset", cycle)))
    unlabeled = torch.ones(n_pool, dtype=torch.bool)
    unlabeled[labeled.cpu()] = False
    candidates = order[unlabeled[order]]
    return candidates if subset_size is None else candidates[:subset_size]

