"""Margin and least confidence (strategies/margin.py, least_confidence.py), side by side against
numpy on a hand-made table of logits."""
import numpy as np
import pytest

from helpers import query_table as query, softmax, table_context


# six items, three classes, chosen so that margin, least confidence and entropy rank them differently
LOGITS = np.array([[2.0, 2.0, -6.0],   # two classes tie: margin 0, confidence 0.5
                   [0.5, 0.4, 0.3],    # nearly uniform: least confident, not the smallest margin
                   [4.0, 0.0, 0.0],
                   [1.0, 0.8, -3.0],
                   [3.0, 1.0, 2.9],
                   [0.0, -1.0, 5.0]])


# --- margin and least confidence

def brute_force_ranking(name, logits):
    p = np.sort(softmax(logits), 1)
    uncertainty = {"margin": p[:, -1] - p[:, -2], "least-confidence": p[:, -1]}[name]  # smallest first
    return list(np.argsort(uncertainty, kind="stable"))


def test_the_hand_made_case_separates_margin_confidence_and_entropy():
    p = softmax(LOGITS)
    by_entropy = list(np.argsort((p * np.log(p)).sum(1), kind="stable"))  # largest entropy first
    rankings = [brute_force_ranking("margin", LOGITS)[:3], brute_force_ranking("least-confidence", LOGITS)[:3],
                by_entropy[:3]]
    assert len({tuple(r) for r in rankings}) == 3, rankings


@pytest.mark.parametrize("name", ["margin", "least-confidence"])
def test_margin_and_least_confidence_match_numpy(name):
    # pool item i has row (i - 10) of LOGITS; the subset lists them shuffled: picks are positions into it
    subset = np.array([13, 10, 15, 11, 14, 12])
    ctx = table_context(np.vstack([np.zeros((10, 3)), LOGITS]), np.zeros((16, 2)), subset)
    expected = brute_force_ranking(name, LOGITS[subset - 10])[:3]
    assert query(name, ctx, 3) == expected


@pytest.mark.parametrize("name", ["margin", "least-confidence"])
def test_margin_and_least_confidence_on_two_classes(name):
    # CelebA's attribute is binary: the top two of two classes are all of them
    logits = np.array([[3.0, -1.0], [0.2, 0.1], [-2.0, 1.0], [0.0, 4.0]])
    ctx = table_context(np.vstack([np.zeros((10, 2)), logits]), np.zeros((14, 2)), np.arange(10, 14))
    assert query(name, ctx, 2) == brute_force_ranking(name, logits)[:2]
