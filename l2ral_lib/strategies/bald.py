"""BALD with MC dropout (Houlsby et al. 2011, "Bayesian Active Learning for Classification and
Preference Learning"; Gal, Islam & Ghahramani, ICML 2017, "Deep Bayesian Active Learning with Image
Data"): the mutual information between the label and the weights,
    I[y; w | x] = H[mean_t p_t(y|x)] - mean_t H[p_t(y|x)],
estimated from T stochastic forward passes through the model's dropout layer (`dropout` > 0).

Follows JordanAsh/badge `query_strategies/bayesian_active_learning_disagreement_dropout.py` (T = 10
passes, softmax per pass, the two entropies) except in one respect: the reference puts the whole
network in train mode for the passes (`self.clf.train()` in `predict_prob_dropout_split`), so
batch-norm normalises with batch statistics and overwrites its running statistics. Here only the
dropout layers sample; batch-norm stays in eval mode and the model is left as it was found.
"""
from __future__ import annotations

import torch

from ..errors import ParamsError
from .base import ClassificationOnly, ScoreStrategy, register_strategy


def mutual_information(probs: torch.Tensor) -> torch.Tensor:
    """(T, B, C) class probabilities of T stochastic passes -> (B,) H[mean p] - mean H[p] (nats)."""
    entropy_of_mean = torch.special.entr(probs.mean(0)).sum(-1)
    mean_entropy = torch.special.entr(probs).sum(-1).mean(0)
    return entropy_of_mean - mean_entropy


@register_strategy("bald")
class BALD(ClassificationOnly, ScoreStrategy):
    @classmethod
    def check_params(cls, params):
        super().check_params(params)
        if params.dropout == 0:
            raise ParamsError("dropout", "bald samples the model's dropout layer, and dropout is 0; set e.g."
                                         " dropout: 0.5 (Gal et al. 2017), which applies to every method of the study")
        if params.bald_passes < 2:
            raise ParamsError("bald_passes", f"({params.bald_passes}) a single pass has no disagreement; use >= 2"
                                             " (default 10)")

    def score(self, ctx):
        # every pass reads the subset in the same order; dropout masks come from the global generator,
        # which the loop seeds per (seed, cycle)
        passes = [ctx.map_pool(ctx.subset, lambda out: torch.softmax(out.output.float(), 1), mc_dropout=True)
                  for _ in range(self.params.bald_passes)]
        return mutual_information(torch.stack(passes))
