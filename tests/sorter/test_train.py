"""Rank conventions, SoDeep's synthetic data and recipe, the shipped sorters' contract (DESIGN.md), the
gradient bound, resumable training and the CLI (the notebook: test_notebooks)."""
import dataclasses
import hashlib
import json

import numpy as np
import pytest
import torch

from l2ral_lib.config import Params
from l2ral_lib.losses import ranking_loss
from l2ral_lib.ranks import exact_ranks, scale_rows
from l2ral_lib.sorter import FrozenSorter, KINDS, MissingSorterError, available_sorter_lengths, build_sorter, load_sorter, train as sorter_training, weights as sorter_weights, weights_hash, weights_path
from l2ral_lib.sorter.quality import evaluate_sorter, gradient_by_spread, rank_quality, rowwise_spearman
from l2ral_lib.sorter.synthetic import FAMILIES, SODEEP_FAMILIES, mixed_batch, sodeep_family_batch
from l2ral_lib.sorter.train import SoDeepRecipe, checkpoint_path, main, sodeep_held_out, train_gru, train_sodeep
from l2ral_lib.tasks import spearman

SHIPPED = [4, 32, 64]
SHIPPED_PAIRS = [(kind, n) for kind in KINDS for n in SHIPPED]


@pytest.fixture(autouse=True)
def one_thread():
    """The GRU's small matrices gain nothing from more threads, and on busy shared cores two
    threads can make it a hundred times slower."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def test_exact_ranks_conventions():
    assert exact_ranks(torch.tensor([3.0, 1.0, 2.0])).tolist() == pytest.approx([1.0, 1 / 3, 2 / 3])
    batch = exact_ranks(torch.tensor([[[0.5, -1.0], [2.0, 7.0]]]))
    assert batch.shape == (1, 2, 2) and batch.tolist() == [[[1.0, 0.5], [0.5, 1.0]]]
    ties = exact_ranks(torch.tensor([1.0, 1.0, 0.0, 1.0]))
    assert ties.tolist() == pytest.approx([0.5, 0.75, 0.25, 1.0])  # ties broken by position
    x = torch.randn(5, 10, generator=torch.Generator().manual_seed(0))
    # brute force: the rank of x_i is 1 + the number of values below it
    brute = torch.stack([torch.stack([(row < v).sum() + 1 for v in row]) for row in x]).float() / 10
    assert torch.equal(exact_ranks(x), brute)
    assert exact_ranks(torch.tensor([[7.0]])).tolist() == [[1.0]]


def test_rowwise_spearman_equals_scipy():
    generator = torch.Generator().manual_seed(1)
    predicted, x = torch.randn(6, 9, generator=generator), torch.randint(0, 4, (6, 9), generator=generator).float()
    expected = [spearman(p, v) for p, v in zip(predicted, x)]  # x has ties: averaged, as scipy does
    assert rowwise_spearman(predicted, x).tolist() == pytest.approx(expected)


def test_synthetic_families_are_finite_and_seeded():
    draw = [mixed_batch(len(FAMILIES) * 3, 16, torch.Generator().manual_seed(7)) for _ in range(2)]
    assert draw[0].shape == (len(FAMILIES) * 3, 16) and torch.isfinite(draw[0]).all()
    assert torch.equal(draw[0], draw[1])


# ---------------------------------------------------------------- SoDeep's data and recipe

def _draw(family, n=8, rows=4000):
    return sodeep_family_batch(family, rows, n, torch.Generator().manual_seed(3)).double()


def test_sodeep_distributions_follow_get_rand_seq():
    """Each type against what technicolor-research/sodeep dataset.py `get_rand_seq` draws."""
    n, k = 8, torch.arange(8).double()
    uniform = _draw("uniform")
    assert uniform.min() >= -1 and uniform.max() < 1
    assert abs(uniform.mean()) < 0.02 and abs(uniform.var() - 1 / 3) < 0.01
    normal = _draw("normal")
    assert abs(normal.mean()) < 0.02 and abs(normal.std() - 1) < 0.02 and normal.abs().max() > 3
    ordered = _draw("spaced_sorted")  # np.arange(a, b, (b - a) / n): a + (b - a) k / n, a and b in [0, 1)
    a, step = ordered[:, :1], ordered[:, 1:2] - ordered[:, :1]
    assert torch.allclose(ordered, a + step * k, atol=1e-6) and a.min() >= 0 and (a + step * n).max() < 1
    assert (step > 0).float().mean().item() == pytest.approx(0.5, abs=0.03)  # b < a half the time: descending
    shuffled = _draw("spaced_shuffled")
    values = shuffled.sort(-1).values
    gaps = values.diff(dim=-1)
    assert torch.allclose(gaps, gaps[:, :1].expand_as(gaps), atol=1e-6)  # evenly spaced once sorted ...
    assert (shuffled.diff(dim=-1) > 0).all(-1).float().mean() < 0.01  # ... but not in order
    mixed = _draw("uniform_then_normal")  # split ~ randint(1, n): position 0 always uniform, the last normal 7/8
    assert mixed[:, 0].abs().max() < 1
    assert (mixed[:, -1].abs() > 1).float().mean().item() == pytest.approx((1 - 1 / n) * 0.3173, abs=0.03)
    run = _draw("spaced_shuffled_then_uniform")  # position 0 lies in the a..b run, within [0, 1)
    assert run[:, 0].min() >= 0 and (run[:, -1] < 0).float().mean() > 0.3
    grid = _draw("grid", rows=2)
    assert np.allclose(grid.numpy(), np.arange(-1.0, 1.0, 2.0 / n)[None].repeat(2, 0))


def test_recipe_is_train_py_defaults():
    recipe = SoDeepRecipe(64)
    assert (recipe.epochs, recipe.batch, recipe.lr, recipe.lr_step, recipe.lr_gamma) == (400, 256, 1e-3, 70, 0.5)
    # SeqDataset(nb_sample=400000), 10% held out, DataLoader(batch_size=256) keeps the last 64
    assert recipe.steps_per_epoch == 1407 and recipe.batch_size(1405) == 256 and recipe.batch_size(1406) == 64
    # StepLR(70, 0.5) stepped at the start of every epoch after the constructor's step: epoch e runs
    # at step count e + 1, so the first halving comes in the 70th epoch (index 69)
    assert [recipe.lr_at(e) for e in (0, 68, 69, 138, 139, 399)] == [1e-3, 1e-3, 5e-4, 5e-4, 2.5e-4, 1e-3 / 32]


def test_sodeep_network_is_gru_constrained():
    net = build_sorter("sodeep")
    rnn = net.rnn
    assert (rnn.input_size, rnn.hidden_size, rnn.num_layers, rnn.bidirectional) == (1, 32, 6, True)
    assert sum(p.numel() for p in net.parameters()) == 100_800  # model.py gru_constrained: GRU(1, 32, 6) only
    x = 0.3 * torch.randn(3, 5, generator=torch.Generator().manual_seed(0))  # sd < the floor 1: centred only
    states, _ = rnn(torch.sigmoid((x - x.mean(-1, keepdim=True)).unsqueeze(-1) / 2 + 1))
    assert torch.allclose(net(x), torch.sigmoid(states.sum(-1)), atol=1e-6)


def test_scale_rows_worked_values():
    wide = torch.tensor([[10.0, 20.0, 30.0, 40.0, 50.0]])  # sd = sqrt(200) > 1: unit sd
    assert torch.allclose(scale_rows(wide, 1.0), (wide - 30) / 200 ** 0.5)
    narrow = torch.tensor([[0.01, 0.02, 0.03]])  # sd = 0.0082 < 1: centred only, never magnified
    assert torch.allclose(scale_rows(narrow, 1.0), torch.tensor([[-0.01, 0.0, 0.01]]))
    assert torch.allclose(scale_rows(narrow, 0.1), torch.tensor([[-0.1, 0.0, 0.1]]))  # magnified by 1 / floor
    assert torch.allclose(scale_rows(narrow, 1e-3), (narrow - 0.02) / (2e-4 / 3) ** 0.5)  # sd > floor: unit sd
    constant = torch.full((1, 4), 3.0, requires_grad=True)
    scale_rows(constant, 1.0).sum().backward()
    assert torch.equal(scale_rows(constant.detach(), 1.0), torch.zeros(1, 4))
    assert torch.equal(constant.grad, torch.zeros(1, 4))


# ---------------------------------------------------------------- the shipped sorters

def test_the_study_lengths_ship_for_every_kind():
    for kind in KINDS:
        assert set(SHIPPED) <= set(available_sorter_lengths(kind))
    assert available_sorter_lengths("no-such-kind") == []
    assert Params().sorter_kind in KINDS


@pytest.mark.parametrize("kind,n", SHIPPED_PAIRS)
def test_shipped_sorter_is_frozen_and_shaped(kind, n):
    sorter = load_sorter(n, kind)
    assert load_sorter(n, kind) is sorter  # cached
    assert not sorter.training and not any(p.requires_grad for p in sorter.parameters())
    sorter.train()  # a model's .train() must not switch it
    assert not sorter.training
    x = torch.randn(64, n, generator=torch.Generator().manual_seed(n))
    assert sorter(x).shape == (64, n) and sorter(x[0]).shape == (n,) and sorter(x.view(8, 8, n)).shape == (8, 8, n)


# held-out Spearman every shipped sorter reaches on its own training distributions: (kind, n) -> bound
# (measured minima over families, 100 rows each: sodeep-4 0.944, sodeep-64 0.972, gru 0.957-0.958; the
# untrained networks average 0.16 to 0.28 (sodeep) and -0.26 to -0.20 (gru))
QUALITY_BOUND = {("sodeep", 4): 0.9, ("sodeep", 32): 0.9, ("sodeep", 64): 0.95,
                 ("gru", 4): 0.94, ("gru", 32): 0.94, ("gru", 64): 0.94}


@pytest.mark.parametrize("kind,n", SHIPPED_PAIRS)
def test_shipped_sorter_ranks_held_out_vectors(kind, n):
    """Per family the kind was trained on, held-out vectors: mean Spearman above the bound and the
    values themselves within 0.1 of the exact normalised ranks (mean L1). The same network untrained
    fails both by far, so the bounds test the training."""
    families = "sodeep" if kind == "sodeep" else "project"
    trained = evaluate_sorter(load_sorter(n, kind), n, n=100, families=families)
    assert min(q["spearman"] for q in trained.values()) > QUALITY_BOUND[kind, n], trained
    assert max(q["l1"] for q in trained.values()) < 0.1, trained
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        untrained = evaluate_sorter(FrozenSorter(build_sorter(kind), n), n, n=100, families=families)
    assert np.mean([q["spearman"] for q in untrained.values()]) < QUALITY_BOUND[kind, n] - 0.2
    assert np.mean([q["l1"] for q in untrained.values()]) > 0.2


def test_gradient_by_spread_is_the_ranking_loss_gradient():
    """Against losses.ranking_loss (eq. 6), one list at a time."""
    sorter = load_sorter(4, "sodeep")
    generator = torch.Generator().manual_seed(5)
    base = torch.randn(2, 4, generator=generator)
    base = (base - base.mean(-1, keepdim=True)) / base.std(-1, correction=0, keepdim=True)
    truth = torch.randn(2, 4, generator=generator)
    x = (0.1 * base).requires_grad_(True)
    sum(ranking_loss(x[i], truth[i], sorter) for i in range(2)).backward()
    assert gradient_by_spread(sorter, 4, [0.1], rows=2) == [pytest.approx(x.grad.norm(dim=-1).mean().item(), rel=1e-5)]


@pytest.mark.parametrize("kind,n", SHIPPED_PAIRS)
def test_gradient_neither_explodes_nor_vanishes_across_spreads(kind, n):
    """Predictions of sd 1e-6 to 1e2. Above the kind's input floor the gradient falls exactly as
    1 / sd, the law of any scale-free ranking (a saturating input, like SoDeep's bare sigmoid, falls
    far faster). Below it the gradient levels off by sd 1e-5, under 5000x its value at sd 1
    (measured: sodeep 14x at length 64, 461x at 4; gru 1000x to 3600x); the same weights without the
    floor grow as 1 / sd without end (1e4x from sd 1e-2 to 1e-6)."""
    sorter = load_sorter(n, kind)
    floor = sorter.net.config["input_floor"]
    wide = [2 * floor, 20 * floor, 1e2]
    above = gradient_by_spread(sorter, n, wide)
    at_sd_1 = above[0] * wide[0]  # the scale-free law g * sd = constant, read at sd 1
    assert [g * s for g, s in zip(above, wide)] == pytest.approx([at_sd_1] * 3, rel=1e-3)
    narrow = gradient_by_spread(sorter, n, [1e-4, 1e-5, 1e-6])
    assert narrow[2] == pytest.approx(narrow[1], rel=0.02)
    assert 0 < max(narrow) < 5000 * at_sd_1
    net = build_sorter(kind, **{**sorter.net.config, "input_floor": 1e-12})  # the same weights, no floor
    net.load_state_dict(sorter.net.state_dict())
    unfloored = gradient_by_spread(FrozenSorter(net, n), n, [1e-6, 1e-2])
    assert unfloored[0] == pytest.approx(1e4 * unfloored[1], rel=1e-3)


@pytest.mark.parametrize("kind", KINDS)
def test_gradient_reaches_the_input_only(kind):
    x = torch.randn(8, 32, generator=torch.Generator().manual_seed(2), requires_grad=True)
    load_sorter(32, kind)(x).pow(2).sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0
    assert all(p.grad is None for p in load_sorter(32, kind).parameters())


@pytest.mark.parametrize("kind,n", SHIPPED_PAIRS)
def test_positive_affine_invariance_above_the_floor_and_constant_rows(kind, n):
    sorter = load_sorter(n, kind)
    x = torch.randn(16, n, generator=torch.Generator().manual_seed(3))
    floor = sorter.net.config["input_floor"]
    x = 2 * floor * (x - x.mean(-1, keepdim=True)) / x.std(-1, correction=0, keepdim=True)  # sd: twice the floor
    assert torch.allclose(sorter(x), sorter(250.0 * x - 3.0), atol=1e-4)
    assert torch.allclose(sorter(x), sorter(0.5 * x + 0.3), atol=1e-4)
    constant = torch.full((2, n), 5.0, requires_grad=True)
    sorter(constant).sum().backward()
    assert torch.isfinite(sorter(constant)).all() and torch.isfinite(constant.grad).all()


def test_loading_leaves_the_global_rng_alone():
    sorter_weights._load.cache_clear()
    torch.manual_seed(0)
    expected = torch.rand(3)
    torch.manual_seed(0)
    load_sorter(4)
    assert torch.equal(torch.rand(3), expected)


def test_wrong_length_and_missing_length():
    with pytest.raises(ValueError, match="length 64, got length 10"):
        load_sorter(64)(torch.randn(2, 10))
    for kind in KINDS:
        with pytest.raises(FileNotFoundError, match=f"sorter --kind {kind} --seq-len 13") as error:
            load_sorter(13, kind)
        assert isinstance(error.value, MissingSorterError) and f"{kind}-13.pt" in str(error.value)
    with pytest.raises(ValueError, match="unknown sorter kind"):
        load_sorter(64, kind="lstm")


def test_weights_hash_is_the_sha256_of_the_file_a_study_loads():
    for kind, n in SHIPPED_PAIRS:
        assert weights_hash(n, kind) == hashlib.sha256(weights_path(n, kind).read_bytes()).hexdigest()
    assert len({weights_hash(n, kind) for kind, n in SHIPPED_PAIRS}) == len(SHIPPED_PAIRS)
    with pytest.raises(MissingSorterError):
        weights_hash(13, "sodeep")


@pytest.mark.parametrize("n", SHIPPED)
def test_shipped_sodeep_record_and_checkpoint(n):
    """The record says SoDeep's recipe, how far it got and its curve; the checkpoint beside it holds
    the shipped (best) weights, so `--resume` continues exactly the shipped run."""
    record = json.loads(weights_path(n, "sodeep").with_suffix(".json").read_text())
    recipe = SoDeepRecipe(n)
    assert {k: record["recipe"][k] for k in dataclasses.asdict(recipe)} == dataclasses.asdict(recipe)
    assert 0 < record["epochs_reached"] <= record["epochs_target"] == 400
    assert record["complete"] == (record["epochs_reached"] >= 400)
    assert record["history"][-1]["steps"] == record["steps"] > 0
    assert record["best"]["val_l1"] == min(point["val_l1"] for point in record["history"])
    assert set(record["validation"]["sodeep"]) == set(SODEEP_FAMILIES)
    assert set(record["validation"]["project"]) == set(FAMILIES)
    state = torch.load(checkpoint_path(weights_path(n, "sodeep")), weights_only=True)
    shipped = torch.load(weights_path(n, "sodeep"), weights_only=True)["state_dict"]
    assert state["steps_total"] == record["steps"] and state["recipe"] == dataclasses.asdict(recipe)
    assert all(torch.equal(shipped[k], v) for k, v in state["best"]["state_dict"].items())


def test_shipped_sodeep_4_reproduces_its_recorded_quality():
    record = json.loads(weights_path(4, "sodeep").with_suffix(".json").read_text())
    quality = rank_quality(load_sorter(4, "sodeep"), sodeep_held_out(SoDeepRecipe(4)))
    assert quality["l1"] == pytest.approx(record["best"]["val_l1"], rel=1e-5)


# ---------------------------------------------------------------- training

TINY = SoDeepRecipe(4, epochs=3, samples_per_epoch=600, val_size=64, checkpoint_every=2)  # 3 steps per epoch


def test_sodeep_training_resumes_where_its_checkpoint_stopped(tmp_path):
    """Stopped inside epoch 2 and resumed, training ends with the same weights as one straight run,
    and the resumed run starts from the checkpoint's epoch and step."""
    quiet = dict(log=lambda *a: None)
    straight = train_sodeep(TINY, tmp_path / "straight" / "sodeep-4.pt", **quiet)
    first = train_sodeep(TINY, tmp_path / "split" / "sodeep-4.pt", max_steps=4, **quiet)
    state = torch.load(checkpoint_path(tmp_path / "split" / "sodeep-4.pt"), weights_only=True)
    assert (state["epoch"], state["step"], first["epochs_reached"]) == (1, 1, pytest.approx(4 / 3, abs=1e-4))
    assert not first["complete"] and first["history"][-1]["steps"] == 4
    resumed = train_sodeep(TINY, tmp_path / "split" / "sodeep-4.pt", resume=True, **quiet)
    assert resumed["complete"] and resumed["steps"] == straight["steps"] == 9
    assert [p["epoch"] for p in resumed["history"]] == [1.0, 1.3333, 2.0, 3.0]
    assert [s["steps"] for s in resumed["segments"]] == [4, 5]
    end = [torch.load(checkpoint_path(tmp_path / run / "sodeep-4.pt"), weights_only=True)["net"]
           for run in ("straight", "split")]
    assert all(torch.equal(end[0][k], end[1][k]) for k in end[0])
    at_epoch_ends = [p["val_l1"] for p in resumed["history"] if p["epoch"] % 1 == 0]
    assert at_epoch_ends == [p["val_l1"] for p in straight["history"]]
    with pytest.raises(ValueError, match="was trained with"):
        train_sodeep(SoDeepRecipe(4, samples_per_epoch=512), tmp_path / "split" / "sodeep-4.pt", resume=True, **quiet)


def test_sodeep_training_learns_to_rank(tmp_path):
    """Two hundred steps of the recipe on length 4 lift the held-out Spearman from about 0 to far above."""
    recipe = SoDeepRecipe(4, epochs=1, samples_per_epoch=256 * 200, val_size=500, checkpoint_every=1000)
    record = train_sodeep(recipe, tmp_path / "sodeep-4.pt", max_steps=200, log=lambda *a: None)
    untrained = rank_quality(FrozenSorter(build_sorter("sodeep"), 4), sodeep_held_out(recipe))["spearman"]
    assert untrained < 0.3 and record["history"][-1]["val_spearman"] > 0.7
    sorter = FrozenSorter(build_sorter("sodeep"), 4)
    sorter.net.load_state_dict(torch.load(tmp_path / "sodeep-4.pt", weights_only=True)["state_dict"])
    assert rank_quality(sorter, sodeep_held_out(recipe))["l1"] == pytest.approx(record["best"]["val_l1"], rel=1e-5)


def test_train_gru_tiny(tmp_path):
    sorter, record = train_gru(8, steps=50, batch=32, out=tmp_path / "gru-8.pt", log=lambda *a: None)
    assert (tmp_path / "gru-8.pt").is_file()
    saved = json.loads((tmp_path / "gru-8.json").read_text())
    assert saved == json.loads(json.dumps(record))
    assert {"kind", "seq_len", "architecture", "steps", "batch", "lr", "seed", "wall_s", "validation"} <= set(record)
    assert set(record["validation"]) == set(FAMILIES)
    assert not any(p.requires_grad for p in sorter.parameters())


# ---------------------------------------------------------------- command line

def test_cli_trains_and_resumes_at_the_given_path(tmp_path, capsys):
    out = tmp_path / "sodeep-4.pt"
    tiny = ["--kind", "sodeep", "--seq-len", "4", "--out", str(out), "--samples-per-epoch", "300"]
    assert main(tiny + ["--epochs", "1"]) == 0
    assert json.loads(out.with_suffix(".json").read_text())["epochs_reached"] == 1
    assert main(tiny + ["--epochs", "2", "--resume"]) == 0
    record = json.loads(out.with_suffix(".json").read_text())
    assert record["epochs_reached"] == 2 and record["steps"] == 4 and len(record["segments"]) == 2
    assert "Spearman" in capsys.readouterr().out
    gru = tmp_path / "gru-5.pt"
    assert main(["--kind", "gru", "--seq-len", "5", "--steps", "2", "--seed", "3", "--out", str(gru)]) == 0
    assert json.loads(gru.with_suffix(".json").read_text())["seed"] == 3


@pytest.fixture
def no_training(monkeypatch):
    """Any training started by the CLI fails the test instead of writing (shipped files stay safe)."""
    def refuse(*args, **kwargs):
        raise AssertionError("training started")
    monkeypatch.setattr(sorter_training, "train_sodeep", refuse)
    monkeypatch.setattr(sorter_training, "train_gru", refuse)


@pytest.mark.parametrize("extra", [[], ["--resume"], ["--kind", "gru"], ["--kind", "gru", "--steps", "5"]])
def test_cli_refuses_to_overwrite_shipped_weights(extra, no_training, capsys):
    kind = "gru" if "gru" in extra else "sodeep"
    before = weights_hash(64, kind)
    assert main(["--seq-len", "64", *extra]) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and "read-only" in error and "--force" in error and f"{kind}-64" in error
    assert weights_hash(64, kind) == before


def test_cli_refuses_an_existing_out_without_resume_and_a_resume_without_checkpoint(tmp_path, no_training, capsys):
    out = tmp_path / "sodeep-4.pt"
    out.write_bytes(b"x")
    assert main(["--seq-len", "4", "--out", str(out)]) == 2
    assert "--force" in capsys.readouterr().err
    assert main(["--seq-len", "4", "--out", str(tmp_path / "new.pt"), "--resume"]) == 2
    assert "no checkpoint" in capsys.readouterr().err
