"""Entropy (strategies/entropy.py): the highest softmax entropy, computed here in numpy."""
import numpy as np

from helpers import forward, query, top


def test_entropy_takes_the_highest_softmax_entropy(trained):
    logits = forward(trained, "entropy").output.double().numpy()
    log_p = logits - logits.max(1, keepdims=True)
    log_p -= np.log(np.exp(log_p).sum(1, keepdims=True))
    assert query(trained, "entropy") == top(-(np.exp(log_p) * log_p).sum(1))
