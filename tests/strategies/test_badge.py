"""BADGE (strategies/badge.py): its query against the written-out gradient embeddings and k-means++ seeding
(margin and least confidence: test_margin.py; BALD: test_bald.py)."""
import numpy as np
import pytest
import torch

from helpers import query_table as query, softmax, table_context
from l2ral_lib.strategies.badge import kmeanspp_seeding


def numpy_badge(logits, features, budget, uniforms):
    """BADGE from its definition: 5120-like embeddings written out, distances from them directly."""
    p = softmax(logits)
    onehot = np.eye(p.shape[1])[p.argmax(1)]
    embedding = np.stack([np.outer(onehot[i] - p[i], features[i]).ravel() for i in range(len(p))])
    picks = [int(np.argmax(np.linalg.norm(embedding, axis=1)))]
    for u in uniforms:
        d2 = np.min([np.sum((embedding - embedding[c]) ** 2, 1) for c in picks], 0)
        d2[picks] = 0
        cumulative = np.cumsum(d2)
        picks.append(int(np.searchsorted(cumulative, u * cumulative[-1], side="left")))
    return picks


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_badge_query_matches_the_written_out_embeddings(seed):
    rng = np.random.default_rng(seed)
    n, classes, dim, budget = 40, 10, 512, 12  # 5120-d embeddings, as ResNet-18 on CIFAR-10
    # float32 values, as the model's outputs, so that both sides start from the same numbers
    logits = rng.normal(0, 2, (n, classes)).astype(np.float32).astype(np.float64)
    features = np.maximum(rng.normal(0, 1, (n, dim)), 0).astype(np.float32).astype(np.float64)  # post-ReLU
    subset = rng.permutation(np.arange(n))
    ctx = table_context(logits, features, subset, seed=1000 + seed)
    uniforms = 1 - torch.rand(budget - 1, generator=torch.Generator().manual_seed(1000 + seed),
                              dtype=torch.float64).numpy()
    picks = query("badge", ctx, budget)
    assert picks == numpy_badge(logits[subset], features[subset], budget, uniforms)
    assert len(set(picks)) == budget


def test_badge_draws_from_its_generator():
    rng = np.random.default_rng(5)
    g, h = torch.tensor(rng.normal(size=(200, 4))), torch.tensor(rng.normal(size=(200, 8)))
    runs = {tuple(kmeanspp_seeding(g, h, 10, torch.Generator().manual_seed(s)).tolist()) for s in range(5)}
    assert len(runs) > 1  # not a deterministic rule in disguise
    same = [kmeanspp_seeding(g, h, 10, torch.Generator().manual_seed(0)).tolist() for _ in range(2)]
    assert same[0] == same[1]


def test_badge_covers_every_distinct_point_before_any_duplicate():
    # three distinct embeddings, each present three times: D^2 sampling gives a copy of a chosen
    # point weight 0, so the first three picks are the three distinct points; then uniform
    h = torch.tensor([[1.0, 0.0], [0.0, 2.0], [3.0, 3.0]]).repeat(3, 1)
    g = torch.tensor([[0.5, -0.5]]).repeat(9, 1)
    for seed in range(10):
        picks = kmeanspp_seeding(g, h, 9, torch.Generator().manual_seed(seed)).tolist()
        assert picks[0] == 2  # largest norm: the reference's first centre
        assert sorted(i % 3 for i in picks[:3]) == [0, 1, 2] and len(set(picks)) == 9


def test_badge_budget_beyond_pool():
    with pytest.raises(ValueError, match="exceeds"):
        kmeanspp_seeding(torch.zeros(3, 2), torch.zeros(3, 2), 4, torch.Generator())


@pytest.mark.parametrize("scale", [1.0, 0.1])
def test_kmeanspp_samples_by_distance_when_only_the_last_item_is_away(scale):
    """Three copies of the first pick and one distinct item: every seed's second pick is the distinct one
    (d^2 weight 0 for the copies); only an empty total falls back to a uniform draw among the unpicked, not a
    small one (scale 0.1: total d^2 0.15)."""
    gradients = scale * torch.tensor([[2.0, 0.0], [2.0, 0.0], [2.0, 0.0], [0.0, 1.0]], dtype=torch.float64)
    features = torch.ones(4, 3)
    for seed in range(20):
        picks = kmeanspp_seeding(gradients, features, 2, torch.Generator().manual_seed(seed)).tolist()
        assert picks == [0, 3], seed


def test_kmeanspp_draws_only_from_the_generator_it_is_given():
    """BADGE's picks follow the (seed, cycle) generator alone: the global RNG's state changes nothing."""
    g = torch.Generator().manual_seed(0)
    gradients, features = torch.randn(50, 4, generator=g, dtype=torch.float64), torch.randn(50, 6, generator=g)
    picks = []
    for global_seed in (1, 2):
        torch.manual_seed(global_seed)
        picks.append(kmeanspp_seeding(gradients, features, 10, torch.Generator().manual_seed(7)).tolist())
    assert picks[0] == picks[1]
    assert picks[0] != kmeanspp_seeding(gradients, features, 10, torch.Generator().manual_seed(8)).tolist()
