"""Margin, least confidence, BALD and BADGE: each selection rule against an independent computation."""
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from torch import nn
from torch.nn import functional as F

from helpers import ROOT
from l2ral_lib.checks import load_params
from l2ral_lib.data.base import ImageClassificationData
from l2ral_lib.errors import ParamsError
from l2ral_lib.models import ModelOutput
from l2ral_lib.models.resnet import SmallImageResNet
from l2ral_lib.strategies import QueryContext, get_strategy
from l2ral_lib.strategies.badge import kmeanspp_seeding
from l2ral_lib.strategies.bald import mutual_information
from l2ral_lib.tasks import Classification

MODERN = ["margin", "least-confidence", "bald", "badge"]

# six items, three classes, chosen so that margin, least confidence and entropy rank them differently
LOGITS = np.array([[2.0, 2.0, -6.0],   # two classes tie: margin 0, confidence 0.5
                   [0.5, 0.4, 0.3],    # nearly uniform: least confident, not the smallest margin
                   [4.0, 0.0, 0.0],
                   [1.0, 0.8, -3.0],
                   [3.0, 1.0, 2.9],
                   [0.0, -1.0, 5.0]])


class TableModel(nn.Module):
    """Stand-in model: the input is a batch of pool indices, the output row i of given tables."""

    def __init__(self, logits, embedding):
        super().__init__()
        self.logits, self.embedding = torch.as_tensor(logits).float(), torch.as_tensor(embedding).float()

    def forward(self, index):
        index = index.long()
        return ModelOutput(self.logits[index], [], self.embedding[index])


class TableData:
    def __init__(self, num_classes):
        self.num_classes = num_classes

    def train_batch(self, index, augment=True):
        return index.float(), None


def table_context(logits, embedding, subset, seed=0):
    """A query context over pool items whose outputs are given; batches of 4 exercise the batching."""
    return QueryContext(model=TableModel(logits, embedding), data=TableData(logits.shape[1]), task=Classification(),
                        params=SimpleNamespace(eval_batch_size=4, amp=False, channels_last=False), labeled=torch.tensor([0]),
                        subset=torch.as_tensor(subset), seed=seed)


def query(name, ctx, budget, **params):
    return get_strategy(name)(SimpleNamespace(**params), Classification(), ctx.model, "cpu").query(ctx, budget).tolist()


def softmax(logits):
    e = np.exp(logits - logits.max(1, keepdims=True))
    return e / e.sum(1, keepdims=True)


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


# --- BALD

def test_mutual_information_worked_example():
    # T = 2 passes, 2 classes, nats. Item 0: the passes disagree completely, (1, 0) and (0, 1):
    # H[mean] = H(0.5, 0.5) = ln 2 = 0.693147, mean H = 0. Item 1: both passes (0.5, 0.5): ln 2 - ln 2 = 0.
    # Item 2: (0.9, 0.1) and (0.5, 0.5): H[mean] = H(0.7, 0.3) = 0.610864; mean H = (H(0.9, 0.1) + ln 2) / 2
    # = (0.325083 + 0.693147) / 2 = 0.509115; I = 0.101749.
    probs = torch.tensor([[[1.0, 0.0], [0.5, 0.5], [0.9, 0.1]],
                          [[0.0, 1.0], [0.5, 0.5], [0.5, 0.5]]])
    assert mutual_information(probs).tolist() == pytest.approx([0.693147, 0.0, 0.101749], abs=2e-6)


def image_context(model, n=24, seed=0):
    generator = torch.Generator().manual_seed(seed)
    images = torch.randint(0, 256, (n + 4, 3, 8, 8), dtype=torch.uint8, generator=generator)
    labels = torch.randint(0, 3, (n + 4,), generator=generator)
    data = ImageClassificationData("tiny", images, labels, images[:4], labels[:4], 3, "cpu")
    return QueryContext(model=model, data=data, task=Classification(), params=SimpleNamespace(eval_batch_size=10, amp=False, channels_last=False),
                        labeled=torch.arange(4), subset=torch.arange(4, n + 4))


def test_bald_samples_only_dropout_and_leaves_the_model_as_found():
    torch.manual_seed(0)
    model = SmallImageResNet(num_classes=3, width=4, dropout=0.5)
    with torch.no_grad():
        model.linear.weight.mul_(30)  # confident logits: a dropped feature changes the prediction visibly
    model.train()  # batch-norm in train mode would update its statistics on every pass
    model.layers[0].eval()  # a mixed state must come back as it was, too
    ctx = image_context(model)
    modes = {name: m.training for name, m in model.named_modules()}
    state = {k: v.clone() for k, v in model.state_dict().items()}
    bald = get_strategy("bald")(SimpleNamespace(bald_passes=5), Classification(), model, "cpu")
    torch.manual_seed(7)
    scores = bald.score(ctx)
    assert {name: m.training for name, m in model.named_modules()} == modes
    for key, value in model.state_dict().items():  # parameters and running statistics alike
        assert torch.equal(value, state[key]), key
    # brute force: the eval-mode embedding (batch-norm on running statistics), then T passes of
    # dropout + the last FC, drawing the masks in the same order (pass by pass, batch by batch)
    model.eval()
    torch.manual_seed(7)
    probs = []
    with torch.no_grad():
        for _ in range(5):
            batches = []
            for start in range(0, len(ctx.subset), 10):
                inputs, _ = ctx.data.train_batch(ctx.subset[start:start + 10], augment=False)
                features = model(inputs).embedding
                batches.append(torch.softmax(model.linear(F.dropout(features, 0.5, training=True)), 1))
            probs.append(torch.cat(batches).double().numpy())
    probs = np.stack(probs)
    mean = probs.mean(0)
    expected = -(mean * np.log(mean)).sum(1) + (probs * np.log(probs)).sum(2).mean(0)
    assert scores.double().numpy() == pytest.approx(expected, rel=1e-4, abs=1e-6)
    assert np.median(expected) > 0.01  # the passes did disagree: dropout sampled


# --- BADGE

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


# --- model and params

def test_dropout_zero_is_the_reference_resnet():
    torch.manual_seed(0)
    plain = SmallImageResNet(width=4)
    torch.manual_seed(0)
    dropped = SmallImageResNet(width=4, dropout=0.5)
    assert not any(isinstance(m, nn.Dropout) for m in plain.modules())
    # the dropout layer draws nothing at initialisation: same weights, same state-dict keys
    assert plain.state_dict().keys() == dropped.state_dict().keys()
    assert all(torch.equal(a, b) for a, b in zip(plain.state_dict().values(), dropped.state_dict().values()))
    x = torch.randn(6, 3, 8, 8)
    plain.eval()
    dropped.eval()
    assert torch.equal(plain(x).output, dropped(x).output)
    dropped.train()
    assert not torch.equal(dropped(x).output, dropped(x).output)


def ci(**overrides):
    return load_params(ROOT / "params" / "cifar10-ci.yaml", overrides)


def test_bald_without_dropout_names_the_key():
    with pytest.raises(ParamsError) as info:
        ci(strategies=["random", "bald"])
    assert info.value.key == "dropout" and "bald" in str(info.value)
    with pytest.raises(ParamsError) as info:
        ci(strategies=["bald"], dropout=0.5, bald_passes=1)
    assert info.value.key == "bald_passes"
    assert ci(strategies=["bald"], dropout=0.5).bald_passes == 10


@pytest.mark.parametrize("dropout", [-0.1, 1.0])
def test_dropout_outside_unit_interval(dropout):
    with pytest.raises(ParamsError) as info:
        ci(dropout=dropout)
    assert info.value.key == "dropout"


@pytest.mark.parametrize("experiment", ["mpii", "shanghaitech"])
@pytest.mark.parametrize("name", MODERN)
def test_classification_only_methods_refuse_regression(experiment, name):
    with pytest.raises(ParamsError) as info:
        load_params(ROOT / "params" / f"{experiment}-ci.yaml", {"strategies": ["random", name]})
    assert info.value.key == "strategies[1]" and f"{name} is defined for classification only" in str(info.value)


def test_dropout_refused_for_the_regression_models():
    with pytest.raises(ParamsError) as info:
        load_params(ROOT / "params" / "mpii-ci.yaml", {"dropout": 0.5})
    assert info.value.key == "dropout"


@pytest.mark.parametrize("experiment", ["cifar10", "celeba"])
def test_modern_smoke_is_the_smoke_study_plus_the_four(experiment):
    smoke = load_params(ROOT / "params" / f"{experiment}-smoke.yaml").to_dict()
    modern = load_params(ROOT / "params" / f"{experiment}-modern-smoke.yaml").to_dict()
    changed = {k for k in smoke if smoke[k] != modern[k]}
    assert changed <= {"experiment", "strategies", "dropout", "seeds"}, changed
    assert modern["strategies"] == smoke["strategies"] + MODERN and modern["dropout"] > 0
    assert set(smoke["seeds"]) <= set(modern["seeds"]) and len(modern["seeds"]) >= 3
    paper = load_params(ROOT / "params" / f"{experiment}-paper.yaml").to_dict()
    modern_paper = load_params(ROOT / "params" / f"{experiment}-modern-paper.yaml").to_dict()
    assert {k for k in paper if paper[k] != modern_paper[k]} == {"experiment", "strategies", "dropout"}


def test_kmeanspp_samples_by_distance_when_only_the_last_item_is_away():
    """Three copies of the first pick and one distinct item: every seed's second pick is the distinct one
    (d^2 weight 0 for the copies); only an empty total falls back to a uniform draw among the unpicked."""
    gradients = torch.tensor([[2.0, 0.0], [2.0, 0.0], [2.0, 0.0], [0.0, 1.0]], dtype=torch.float64)
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
