"""The study loop's bookkeeping: sizes, no double labeling, shared subsets, resume, determinism."""
import json

import pandas as pd
import pytest
import torch

from helpers import interrupt_at_query
from l2ral_lib import loop
from l2ral_lib.data import load_dataset
from l2ral_lib.loop import run_study
from l2ral_lib.outputs import load_selected
from l2ral_lib.study_folder import RESULT_COLUMNS
from l2ral_lib.seeds import query_subset
from l2ral_lib.strategies import list_strategies

METHODS = ["random", "entropy"]


@pytest.fixture(scope="module")
def finished(tmp_path_factory, tiny_data_root):
    from helpers import ROOT
    from l2ral_lib.checks import load_params

    params = load_params(ROOT / "params" / "cifar10-ci.yaml",
                         {"data_root": str(tiny_data_root), "strategies": METHODS, "seeds": [0, 1]})
    out = tmp_path_factory.mktemp("study")
    return params, out, run_study(params, "cpu", out, progress=False)


def test_results_table_shape(finished):
    params, out, table = finished
    assert list(table.columns) == RESULT_COLUMNS
    acc = table[table.metric == "accuracy"]
    assert len(acc) == len(METHODS) * 2 * params.n_cycles
    assert sorted(acc.n_labeled.unique()) == [params.labeled_at(c) for c in range(params.n_cycles)]
    timings = set(table.metric[table.metric.str.startswith("time_")])
    assert {"time_train_s", "time_score_s", "time_select_s"} <= timings
    assert json.loads((out / "params.json").read_text())["strategies"] == METHODS


def test_provenance_per_slice(finished):
    params, out, _ = finished
    provenance = json.loads((out / "provenance.json").read_text())
    assert sorted(provenance["slices"]) == sorted(f"{m}-seed{s}" for m in METHODS for s in (0, 1))
    for runs in provenance["slices"].values():
        (run,) = runs  # one uninterrupted run per slice
        assert run["first_cycle"] == 0 and run["cycles_done"] == params.n_cycles and run["finished"]
        assert run["versions"]["torch"] == torch.__version__ and run["hardware"]["device"] == "cpu"
        assert run["weights"] == {}  # random and entropy read no pretrained file
    assert provenance["commits"] == [str(runs[0]["git"]["commit"]) for runs in provenance["slices"].values()][:1]
    assert provenance["mixed_commits"] is False


def test_selected_sizes_and_no_double_labeling(finished):
    params, out, _ = finished
    for method in METHODS:
        for seed in (0, 1):
            selected = load_selected(out, method, seed)
            assert len(selected[0]) == params.initial_labeled
            assert all(len(selected[c]) == params.query_size for c in range(1, params.n_cycles))
            everything = [i for c in sorted(selected) for i in selected[c]]
            assert len(everything) == len(set(everything)) == params.max_labeled  # the last cycle queries nothing


def test_methods_share_initial_set_and_seeds_differ(finished):
    _, out, table = finished
    cycle0 = table[(table.cycle == 0) & (table.metric == "accuracy")].set_index(["method", "seed"]).value
    assert cycle0["random", 0] == cycle0["entropy", 0]  # same set, same weights, same batches
    assert load_selected(out, "random", 0)[0] == load_selected(out, "entropy", 0)[0]
    assert load_selected(out, "random", 0)[0] != load_selected(out, "random", 1)[0]


def test_same_seed_same_results(finished, ci_params, tmp_path):
    params, _, table = finished
    again = run_study(params, "cpu", tmp_path / "again", only=[("entropy", 1)], progress=False)
    measured = lambda t: t[~t.metric.str.startswith("time_")].reset_index(drop=True)  # noqa: E731
    expected = table[(table.method == "entropy") & (table.seed == 1)]
    pd.testing.assert_frame_equal(measured(again), measured(expected))


def test_resume_after_interruption_is_identical(finished, tmp_path, monkeypatch):
    params, _, table = finished
    calls = {"n": 0}
    original = loop.Study.query

    def crash_in_second_query(self, *args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 2:
            raise KeyboardInterrupt  # killed mid-study, after cycle 0 was saved
        return original(self, *args, **kwargs)

    monkeypatch.setattr(loop.Study, "query", crash_in_second_query)
    with pytest.raises(KeyboardInterrupt):
        run_study(params, "cpu", tmp_path, only=[("random", 0)], progress=False)
    state = torch.load(tmp_path / "slices/random-seed0/state.pt", weights_only=False)
    assert state["cycles_done"] == 1
    monkeypatch.setattr(loop.Study, "query", original)
    resumed = run_study(params, "cpu", tmp_path, only=[("random", 0)], progress=False)
    measured = lambda t: t[~t.metric.str.startswith("time_")].reset_index(drop=True)  # noqa: E731
    pd.testing.assert_frame_equal(measured(resumed), measured(table[(table.method == "random") & (table.seed == 0)]))
    assert load_selected(tmp_path, "random", 0) == load_selected(finished[1], "random", 0)


def test_finished_study_is_not_recomputed(finished, monkeypatch):
    params, out, table = finished
    monkeypatch.setattr(loop, "train_cycle", lambda *a, **k: pytest.fail("a finished cycle was retrained"))
    pd.testing.assert_frame_equal(run_study(params, "cpu", out, progress=False), table)


def assert_state_equal(expected, got, where="state"):
    """Nested dicts of tensors (model and strategy state dicts) equal to the last bit."""
    if isinstance(expected, dict):
        assert expected.keys() == got.keys(), where
        for key in expected:
            assert_state_equal(expected[key], got[key], f"{where}.{key}")
    elif isinstance(expected, torch.Tensor):
        assert torch.equal(expected, got), where
    else:
        assert expected == got, where


def final_state(out, method):
    return torch.load(out / f"slices/{method}-seed0/state.pt", weights_only=False)


@pytest.mark.parametrize("continue_model", [True, False])
@pytest.mark.parametrize("method", list_strategies())
def test_resume_equals_uninterrupted_run(method, continue_model, ci_params, tmp_path, monkeypatch):
    """Killed in cycle 1 and resumed: the same rows, picks and final weights as without the kill."""
    params = ci_params(strategies=[method], continue_model=continue_model, max_labeled=50,
                       dropout=0.5 if method == "bald" else 0.0)  # BALD samples a dropout layer
    reference = run_study(params, "cpu", tmp_path / "reference", progress=False)
    restore = interrupt_at_query(monkeypatch, 2)
    with pytest.raises(KeyboardInterrupt):
        run_study(params, "cpu", tmp_path / "resumed", progress=False)
    assert final_state(tmp_path / "resumed", method)["cycles_done"] == 1
    restore()
    resumed = run_study(params, "cpu", tmp_path / "resumed", progress=False)
    measured = lambda t: t[~t.metric.str.startswith("time_")].reset_index(drop=True)  # noqa: E731
    pd.testing.assert_frame_equal(measured(resumed), measured(reference))
    assert load_selected(tmp_path / "resumed", method, 0) == load_selected(tmp_path / "reference", method, 0)
    for part in ("model", "strategy"):
        expected, got = final_state(tmp_path / "reference", method)[part], final_state(tmp_path / "resumed", method)[part]
        assert_state_equal(expected, got)
    runs = json.loads((tmp_path / "resumed" / f"slices/{method}-seed0/provenance.json").read_text())["runs"]
    assert [(r["first_cycle"], r["cycles_done"]) for r in runs] == [(0, 1), (1, params.n_cycles)]


@pytest.mark.parametrize("continue_model", [True, False])
def test_training_randomness_per_cycle_shared_by_methods(continue_model, ci_params, tmp_path, monkeypatch):
    """The generator state at the start of each cycle's training: the same for every method, different
    from cycle to cycle (a rebuilt model must not replay the stream of the build's seeds)."""
    seen, original = {}, loop.train_cycle

    def fingerprint(model, strategy, *args, **kwargs):
        seen.setdefault(strategy.name, []).append(torch.random.get_rng_state().numpy().tobytes())
        return original(model, strategy, *args, **kwargs)

    monkeypatch.setattr(loop, "train_cycle", fingerprint)
    params = ci_params(strategies=["entropy", "l2r"], continue_model=continue_model, max_labeled=50)
    run_study(params, "cpu", tmp_path, progress=False)
    assert seen["entropy"] == seen["l2r"] and len(seen["l2r"]) == params.n_cycles
    assert len(set(seen["l2r"])) == params.n_cycles


def test_random_labels_the_first_items_of_the_shared_order(finished):
    params, out, _ = finished
    selected = load_selected(out, "random", 1)
    labeled, n_pool = torch.tensor(selected[0]), load_dataset(params, "cpu").n_pool
    for cycle in range(1, params.n_cycles):
        subset = query_subset(1, cycle - 1, labeled, n_pool, params.subset_size)
        assert selected[cycle] == subset[:params.query_size].tolist()
        labeled = torch.cat([labeled, torch.tensor(selected[cycle])])


@pytest.mark.parametrize("study", ["cifar10-ci-paper", "cifar10-ci"])
def test_a_paper_profiles_run_says_at_its_start_how_far_its_sorter_was_trained(study, ci_params, tmp_path,
                                                                                caplog):
    from l2ral_lib.sorter import weights_path

    params = ci_params(study=study, strategies=["random", "l2r", "ll4al"])
    record = json.loads(weights_path(params.batch_size, "sodeep").with_suffix(".json").read_text())
    with caplog.at_level("INFO", logger="l2ral_lib"):
        loop.open_study(params, "cpu", tmp_path, progress=False)
    said = [r.getMessage() for r in caplog.records if "400-epoch" in r.getMessage()]
    if study.endswith("-paper"):
        assert len(said) == 1 and said[0].startswith(f"{study}: a paper profile")
        assert f"sodeep-{params.batch_size} trained {record['epochs_reached']:.2f} of its recipe's 400 epochs" in said[0]
    else:
        assert not said
