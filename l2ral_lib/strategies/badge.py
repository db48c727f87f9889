"""BADGE (Ash, Zhang, Krishnamurthy, Langford & Agarwal, ICLR 2020, "Deep Batch Active Learning by
Diverse, Uncertain Gradient Lower Bounds"): k-means++ seeding on gradient embeddings.

Follows JordanAsh/badge: `query_strategies/strategy.py` `get_grad_embedding` (eval-mode model,
predicted label = argmax of the softmax, the gradient of the cross-entropy w.r.t. the last layer's
weight: block c of the embedding is h * (1[c = argmax] - p_c), h the penultimate features; no bias)
and `query_strategies/badge_sampling.py` `init_centers` (first centre = the embedding of largest
norm, each next one drawn with probability proportional to the squared distance to its nearest
chosen centre, never twice). Unlabeled subset only: the labeled set plays no part, as there.

The embeddings g_i (x) h_i (g = p - onehot(argmax p), C x D: 5120-d for ResNet-18 on CIFAR-10) are
never formed. Norms and inner products factorise exactly,
    <g_i (x) h_i, g_j (x) h_j> = <g_i, g_j> <h_i, h_j>,
so the squared distance of every point to a new centre costs one (N, D) and one (N, C) product with
the centre's factors: memory O(N (D + C)), the size of the features themselves.
"""
from __future__ import annotations

import torch

from .base import ClassificationOnly, Strategy, register_strategy


def gradient_factor(logits: torch.Tensor) -> torch.Tensor:
    """(N, C) g = p - onehot(argmax p): the last layer's cross-entropy gradient for the predicted
    label is g (x) h (the reference stores -g; distances are the same)."""
    probs = torch.softmax(logits.double(), dim=1)
    return probs - torch.nn.functional.one_hot(probs.argmax(1), probs.shape[1]).double()


def kmeanspp_seeding(gradients: torch.Tensor, features: torch.Tensor, budget: int,
                     generator: torch.Generator) -> torch.Tensor:
    """k-means++ seeding of the embeddings gradients[i] (x) features[i] ((N, C), (N, D)).

    First pick: the largest norm. Each next pick: item i with probability d_i^2 / sum_j d_j^2, d_i the
    distance to its nearest pick, by inverse CDF of a uniform drawn from `generator` (CPU): the same
    picks on any device. If every unpicked item sits on a pick, the next is uniform among the unpicked.
    -> LongTensor (budget,) of distinct indices."""
    n = len(features)
    if budget > n:
        raise ValueError(f"budget {budget} exceeds the pool of {n} points")
    # the (N, D) products in float32, as core-set's distances (3x faster than float64 on CPU); the rest
    # in float64, so that cumulative weights over the pool stay exact enough to sample from
    g, h = gradients.double(), features.float()
    squared_norms = g.pow(2).sum(1) * h.double().pow(2).sum(1)
    uniforms = 1.0 - torch.rand(budget - 1, generator=generator, dtype=torch.float64).to(h.device)  # in (0, 1]
    picked = torch.zeros(n, dtype=torch.bool, device=h.device)
    picks = torch.empty(budget, dtype=torch.long, device=h.device)
    nearest = torch.full((n,), float("inf"), dtype=torch.float64, device=h.device)
    pick = squared_norms.argmax()
    for i in range(budget):
        if i:
            cumulative = nearest.cumsum(0)
            if not cumulative[-1] > 0:  # every unpicked item sits on a pick
                cumulative = (~picked).double().cumsum(0)
            # first item whose cumulative weight reaches u * total: zero-weight items are never hit
            pick = torch.searchsorted(cumulative, uniforms[i - 1] * cumulative[-1:]).squeeze(0)
        picks[i], picked[pick] = pick, True
        squared_distance = squared_norms + squared_norms[pick] - 2 * (g @ g[pick]) * (h @ h[pick]).double()
        nearest = torch.minimum(nearest, squared_distance.clamp_min(0))
        nearest[pick] = 0.0  # rounding must leave a pick no chance of being drawn again
    return picks


@register_strategy("badge")
class BADGE(ClassificationOnly, Strategy):
    def query(self, ctx, budget):
        classes = ctx.data.num_classes
        with ctx.timed("score"):  # one pass: logits and penultimate features together
            both = ctx.map_pool(ctx.subset, lambda out: torch.cat([out.output.float(), out.embedding.float()], 1))
            gradients = gradient_factor(both[:, :classes])
        with ctx.timed("select"):
            return kmeanspp_seeding(gradients, both[:, classes:], budget, torch.Generator().manual_seed(ctx.seed))
