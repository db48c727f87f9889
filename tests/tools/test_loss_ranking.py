"""The loss-ranking experiment (experiments/loss_ranking.py): its replay of the study's head training, its
lockstep training of one head per seed, its measures, and an end-to-end run with the notebook."""
import copy
import json
import os
import subprocess
import sys

import nbformat
import pandas as pd
import papermill
import pytest
import scipy.stats
import torch

from helpers import ROOT
from l2ral_lib.data import load_dataset
from l2ral_lib.heads import L2RHead
from l2ral_lib.losses import RANK_LOSSES
from l2ral_lib.models import build_model
from l2ral_lib.strategies import get_strategy
from l2ral_lib.strategies.loss_head import make_objective
from l2ral_lib.tasks import Classification
from l2ral_lib.training import train_cycle

sys.path.insert(0, str(ROOT / "experiments"))
import loss_ranking  # noqa: E402


def train_target(params, data, strategy_or_recorder, labeled):
    torch.manual_seed(0)
    model = build_model(params, data)
    torch.manual_seed(1)
    train_cycle(model, strategy_or_recorder(model), data, Classification(), labeled, params, where="test", progress=False)
    return model


@pytest.mark.parametrize("method", ["l2r", "l2r-all-features", "l2r-mse", "l2r-diffsort"])
def test_joint_replay_equals_training_the_head_alongside_the_target(method, ci_params):
    """The joint setting's claim: a detached head trained on the recording of a target's training ends
    where the study's strategy, trained alongside, ends; recording changes nothing of the target."""
    params = ci_params(head_lr=0.05)  # large steps: a replay that drifted would show
    data = load_dataset(params, "cpu")
    labeled = torch.arange(22)  # 5 full lists of 4 and a partial one (the sorter skips it, the others use it)
    built = {}

    def strategy(model):
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(2)
            built["strategy"] = get_strategy(method)(params, Classification(), model, "cpu")
        built["initial"] = copy.deepcopy(built["strategy"].head)
        return built["strategy"]

    alongside = train_target(params, data, strategy, labeled)
    recorder = loss_ranking.Recorder()
    recorded = train_target(params, data, lambda model: recorder, labeled)
    assert all(torch.equal(a, b) for a, b in zip(alongside.state_dict().values(), recorded.state_dict().values()))
    assert [len(losses) for losses in recorder.losses] == [4] * 5 + [2] + [4] * 5 + [2]  # 2 epochs
    replayed, start = built["initial"], copy.deepcopy(built["initial"])
    stream = {"features": recorder.features, "losses": recorder.losses, "epochs": recorder.epochs}
    objective = make_objective(built["strategy"].rank_loss, params, "cpu", params.sorter_kind)
    loss_ranking.train_heads([replayed], [stream], objective, alongside.feature_channels, params)
    for a, b in zip(replayed.parameters(), built["strategy"].head.parameters()):
        assert torch.allclose(a, b, atol=1e-6), method
    assert not torch.allclose(next(replayed.parameters()), next(start.parameters()))  # it did train


@pytest.mark.parametrize("rank_loss", RANK_LOSSES)
def test_heads_in_lockstep_end_as_if_trained_alone(rank_loss, ci_params):
    """One head per seed in one step: the summed loss gives each its own gradient. Plain SGD, whose step
    scales with the gradient, so that averaging instead of summing would fail (by about 1e-2 here)."""
    params = ci_params(head_optimizer="sgd", head_lr=0.05)
    objective = make_objective(rank_loss, params, "cpu", params.sorter_kind)
    channels = [4, 8, 16, 32]
    generator = torch.Generator().manual_seed(3)
    streams = [{"features": [torch.randn(4, 60, generator=generator) for _ in range(6)],
                "losses": [torch.rand(4, generator=generator) for _ in range(6)], "epochs": [0, 0, 0, 1, 1, 1]}
               for _ in range(2)]
    together = loss_ranking.build_heads("l2r", [0, 1], channels, params)
    alone = copy.deepcopy(together)
    loss_ranking.train_heads(together, streams, objective, channels, params)
    for head, stream in zip(alone, streams):
        loss_ranking.train_heads([head], [stream], objective, channels, params)
    for a, b in zip(together, alone):  # the sorter's GRU rounds a stack of lists differently (1e-7 per forward)
        assert all(torch.allclose(p, q, atol=1e-4) for p, q in zip(a.parameters(), b.parameters()))
    assert not torch.equal(together[0].fc1.weight, loss_ranking.build_heads("l2r", [0], channels, params)[0].fc1.weight)


def test_heads_start_alike_per_seed_and_head_whatever_the_objective(ci_params):
    params = ci_params()
    first, again = (loss_ranking.build_heads("lossnet", [0, 1], [4, 8, 16, 32], params) for _ in range(2))
    assert all(torch.equal(p, q) for a, b in zip(first, again) for p, q in zip(a.parameters(), b.parameters()))
    assert not torch.equal(first[0].out.weight, first[1].out.weight)


def test_pooled_features_give_the_heads_their_own_values():
    maps = [torch.randn(5, c, s, s, generator=torch.Generator().manual_seed(c)) for c, s in ((4, 8), (8, 4), (16, 2))]
    pooled = torch.cat([m.mean((-2, -1)) for m in maps], 1)
    head = L2RHead(16, 8)
    assert torch.allclose(head(loss_ranking.as_maps(pooled, [4, 8, 16])), head(maps), atol=1e-6)


def test_frozen_lists_are_formed_like_training_batches(ci_params):
    params = ci_params()  # batch_size 4
    held = {"features": torch.arange(22.0)[:, None].repeat(1, 3), "losses": torch.arange(22.0)}
    lists = loss_ranking.frozen_lists(0, held, params, epochs=3)
    assert [len(x) for x in lists["losses"]] == ([4] * 5 + [2]) * 3 and lists["epochs"] == [0] * 6 + [1] * 6 + [2] * 6
    epochs = [torch.cat(lists["losses"][6 * e:6 * e + 6]) for e in range(3)]
    assert all(sorted(e.tolist()) == list(range(22)) for e in epochs) and not torch.equal(epochs[0], epochs[1])
    assert all(torch.equal(f[:, 0], y) for f, y in zip(lists["features"], lists["losses"]))  # rows stay paired
    assert all(torch.equal(a, b) for a, b in zip(lists["losses"], loss_ranking.frozen_lists(0, held, params, 3)["losses"]))


def test_splits_are_disjoint_and_sized(ci_params):
    params = ci_params()
    parts = loss_ranking.splits(0, 120, params)
    assert [len(parts[k]) for k in ("train", "held", "pool")] == [params.max_labeled] * 2 + [params.subset_size]
    assert len(torch.unique(torch.cat(list(parts.values())))) == 2 * params.max_labeled + params.subset_size
    assert not torch.equal(parts["train"], loss_ranking.splits(1, 120, params)["train"])


def test_measures_against_hand_made_cases():
    true = torch.tensor([5.0, 4.0, 3.0, 2.0, 1.0, 0.5])
    assert loss_ranking.topk_recall(torch.tensor([5.0, 1.0, 4.0, 2.0, 3.0, 0.0]), true, 2) == 0.5  # {0, 1} vs {0, 2}
    assert loss_ranking.measure(true * 3 + 1, true, 3) == {"spearman": 1.0, "kendall": pytest.approx(1.0), "topk_recall": 1.0}
    assert loss_ranking.measure(-true, true, 3) == {"spearman": -1.0, "kendall": pytest.approx(-1.0), "topk_recall": 0.0}
    predicted = torch.tensor([0.3, 0.1, 0.2, 0.6, 0.5, 0.4])
    assert loss_ranking.measure(predicted, true, 3)["kendall"] == pytest.approx(scipy.stats.kendalltau(predicted, true).statistic)


def test_rank_error_counts_positions():
    exact = lambda x: torch.argsort(torch.argsort(x, -1), -1).float().add(1) / x.shape[-1]  # noqa: E731
    one_off = lambda x: exact(x) + 1 / x.shape[-1]  # noqa: E731  every rank one position too high
    predicted = torch.randn(10)
    assert loss_ranking.rank_error(exact, predicted, 4) == 0.0
    assert loss_ranking.rank_error(one_off, predicted, 4) == pytest.approx(1.0)  # the last 2 items are left out


@pytest.mark.slow
def test_script_and_notebook_run_end_to_end(tmp_path, tiny_data_root):
    out = tmp_path / "loss_ranking"
    command = [sys.executable, "experiments/loss_ranking.py", "--params", "params/cifar10-ci.yaml", "--seeds", "2",
               "--data-root", str(tiny_data_root), "--out", str(out)]
    # this checkout's package, whichever checkout the environment installed (worktrees may share one)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=600, env=env)
    assert done.returncode == 0, done.stderr
    measurements = pd.read_csv(out / "measurements.csv")
    # heads x objectives, the L2R-head sweep (taus, gru sorter), the entropy reference
    combinations = 2 * len(RANK_LOSSES) + len(loss_ranking.SWEEP_TAUS) + 1 + 1
    assert len(measurements) == 2 * combinations * 2 * 2 * 3  # settings x combinations x seeds x splits x metrics
    assert measurements.value.between(-1, 1).all()
    summary = pd.read_csv(out / "summary.csv")
    assert len(summary) == 2 * 2 * 3 * combinations and (summary.n_seeds == 2).all()
    paired = pd.read_csv(out / "paired.csv")
    assert set(paired.reference) == {"l2r|" + o for o in RANK_LOSSES}  # the paper's method, and per-objective heads
    assert (paired.reference == "l2r|sodeep").sum() == 2 * 2 * 3 * (combinations - 1)
    cached = sorted(p.name for p in (out / "cache").iterdir())
    assert cached == ["seed0.pt", "seed1.pt"]
    stamps = [p.stat().st_mtime_ns for p in (out / "cache").iterdir()]
    again = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=600, env=env)
    assert again.returncode == 0, again.stderr
    assert [p.stat().st_mtime_ns for p in (out / "cache").iterdir()] == stamps  # targets read, not retrained
    pd.testing.assert_frame_equal(pd.read_csv(out / "measurements.csv"), measurements)
    papermill.execute_notebook(str(ROOT / "notebooks" / "loss_ranking.ipynb"), str(out / "loss_ranking.ipynb"),
                               cwd=str(ROOT),
                               kernel_name="python3", parameters={"out_dir": str(out)}, progress_bar=False)
    for figure in ("ranking_quality", "paired_differences", "sorter_share"):
        assert (out / "figures" / f"{figure}.png").stat().st_size > 10_000, figure
    assert (out / "pool_table.md").read_text().count("\n") == 2 + 2 * len(RANK_LOSSES) + 1  # header, rule, rows, entropy
    errors = [o for c in nbformat.read(out / "loss_ranking.ipynb", as_version=4).cells if c.cell_type == "code"
              for o in c.outputs if o.output_type == "error"]
    assert not errors


def test_make_loss_ranking_repeats_the_shipped_tables_thread_count():
    """Torch's CPU thread count is part of how the numbers come out: the make target runs with the shipped one;
    its former name still runs it, after a note."""
    shipped = json.loads((ROOT / "outputs" / "loss_ranking" / "provenance.json").read_text())["threads"]
    dry = subprocess.run(["make", "-n", "loss-ranking"], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert f"experiments/loss_ranking.py --device cpu --threads {shipped} " in dry.stdout
    old = subprocess.run(["make", "-n", "ranking-bench"], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert "make ranking-bench is deprecated: run make loss-ranking" in old.stdout
    assert f"experiments/loss_ranking.py --device cpu --threads {shipped} " in old.stdout


def test_make_loss_ranking_with_collect_renders_the_shipped_tables_only():
    """COLLECT=1: the notebook (and pool_table.md) rendered from the tables there, nothing computed."""
    dry = subprocess.run(["make", "-n", "loss-ranking", "COLLECT=1"], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert "experiments/loss_ranking.py" not in dry.stdout
    assert "papermill notebooks/loss_ranking.ipynb outputs/loss_ranking/loss_ranking.ipynb" in dry.stdout
