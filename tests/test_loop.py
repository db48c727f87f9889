"""The study loop's bookkeeping: sizes, no double labeling, shared subsets, resume, determinism."""
import json
import subprocess

import pandas as pd
import pytest
import torch

from l2ral_lib import loop, provenance as provenance_module
from l2ral_lib.data import load_dataset
from l2ral_lib.errors import ParamsError
from l2ral_lib.loop import run_study
from l2ral_lib.outputs import load_selected
from l2ral_lib.results_table import RESULT_COLUMNS
from l2ral_lib.seeds import derive_seed, initial_labeled_set, query_subset
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


def test_subsets_shared_across_methods():
    labeled = initial_labeled_set(3, 500, 50)
    first = query_subset(3, 0, labeled, 500, 100)
    assert torch.equal(first, query_subset(3, 0, labeled.flip(0), 500, 100))  # same set, same subset
    assert not set(first.tolist()) & set(labeled.tolist())
    # another method labeled other items: its subset is the same shared order minus its own labels
    other = torch.cat([labeled, first[:10]])
    second = query_subset(3, 0, other, 500, 100)
    assert torch.equal(second[:90], first[10:])
    assert not torch.equal(query_subset(3, 1, labeled, 500, 100), first)  # fresh draw per cycle


def test_initial_set_and_subsets_depend_on_the_seed():
    assert not torch.equal(initial_labeled_set(0, 500, 50), initial_labeled_set(1, 500, 50))
    labeled = initial_labeled_set(0, 500, 50)
    assert not torch.equal(query_subset(0, 0, labeled, 500, 100), query_subset(1, 0, labeled, 500, 100))
    # the subset's order is not the initial set's order with the labeled items removed
    order = torch.randperm(500, generator=torch.Generator().manual_seed(derive_seed(0, "initial")))
    assert not torch.equal(query_subset(0, 0, labeled, 500, 100), order[50:150])


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_shipped_random_slices_follow_from_the_seed_derivation(seed):
    """Every shipped study starts from initial_labeled_set and queries within query_subset; Random takes the
    subset's first items. A changed seed derivation (salt, byte order, dropped part) would silently move
    every study away from the numbers it ships: the shipped CIFAR-10 smoke study's Random picks pin it."""
    from helpers import ROOT

    study = ROOT / "outputs" / "cifar10-smoke"
    params = json.loads((study / "params.json").read_text())
    selected = load_selected(study, "random", seed)
    n_pool = 50000  # the CIFAR-10 training set (pool_size: null)
    labeled = initial_labeled_set(seed, n_pool, params["initial_labeled"])
    assert selected[0] == labeled.tolist()
    for cycle in range(1, len(selected)):
        subset = query_subset(seed, cycle - 1, labeled, n_pool, params["subset_size"])
        assert selected[cycle] == subset[:params["query_size"]].tolist(), f"cycle {cycle}"
        labeled = torch.cat([labeled, subset[:params["query_size"]]])


def test_subset_none_is_whole_unlabeled_pool():
    labeled = initial_labeled_set(0, 50, 10)
    assert sorted(query_subset(0, 0, labeled, 50, None).tolist()) == sorted(set(range(50)) - set(labeled.tolist()))


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


def interrupt_at_query(monkeypatch, n: int):
    """Make the n-th query of this process raise, as a kill after the (n-1)-th cycle was saved."""
    calls, original = {"n": 0}, loop.Study.query

    def crash(self, *args, **kwargs):
        calls["n"] += 1
        if calls["n"] == n:
            raise KeyboardInterrupt
        return original(self, *args, **kwargs)

    monkeypatch.setattr(loop.Study, "query", crash)
    return lambda: monkeypatch.setattr(loop.Study, "query", original)


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


def test_resume_on_another_commit_is_recorded_and_said(ci_params, tmp_path, monkeypatch, caplog):
    params = ci_params(strategies=["random"])
    monkeypatch.setattr(provenance_module, "git_commit", lambda: {"commit": "a" * 40, "dirty": False})
    restore = interrupt_at_query(monkeypatch, 2)
    with pytest.raises(KeyboardInterrupt):
        run_study(params, "cpu", tmp_path, progress=False)
    restore()
    monkeypatch.setattr(provenance_module, "git_commit", lambda: {"commit": "b" * 40, "dirty": True})
    with caplog.at_level("WARNING", logger="l2ral_lib.provenance"):
        run_study(params, "cpu", tmp_path, progress=False)
    assert f"random-seed0 resumes on commit {'b' * 40}; earlier cycles ran on {'a' * 40}" in caplog.text
    provenance = json.loads((tmp_path / "provenance.json").read_text())
    assert provenance["commits"] == ["a" * 40, "b" * 40] and provenance["mixed_commits"] and provenance["dirty"]
    runs = provenance["slices"]["random-seed0"]
    assert [(r["git"]["commit"][0], r["first_cycle"], r["cycles_done"]) for r in runs] == \
        [("a", 0, 1), ("b", 1, params.n_cycles)]


def test_l2r_records_the_hash_of_the_sorter_weights_it_used(ci_params, tmp_path):
    import hashlib

    from l2ral_lib.sorter import weights_path

    params = ci_params(strategies=["l2r"], max_labeled=30)
    run_study(params, "cpu", tmp_path, progress=False)
    (weights,) = json.loads((tmp_path / "provenance.json").read_text())["weights"]
    file = weights_path(params.batch_size, params.sorter_kind)
    record = json.loads(file.with_suffix(".json").read_text())  # how far it was trained (issue 26 item 4)
    assert weights == {"sorter": {"file": f"l2ral_lib/sorter_weights/{file.name}",
                                  "sha256": hashlib.sha256(file.read_bytes()).hexdigest(),
                                  "epochs_trained": record["epochs_reached"], "epochs_target": record["epochs_target"],
                                  "weights_epoch": record["best"]["epoch"]}}


@pytest.mark.parametrize("experiment", ["cifar10-ci-paper", "cifar10-ci"])
def test_a_paper_profiles_run_says_at_its_start_how_far_its_sorter_was_trained(experiment, ci_params, tmp_path,
                                                                                caplog):
    from l2ral_lib.sorter import weights_path

    params = ci_params(experiment=experiment, strategies=["random", "l2r", "ll4al"])
    record = json.loads(weights_path(params.batch_size, "sodeep").with_suffix(".json").read_text())
    with caplog.at_level("INFO", logger="l2ral_lib"):
        loop.open_study(params, "cpu", tmp_path, progress=False)
    said = [r.getMessage() for r in caplog.records if "400-epoch" in r.getMessage()]
    if experiment.endswith("-paper"):
        assert len(said) == 1 and said[0].startswith(f"{experiment}: a paper profile")
        assert f"sodeep-{params.batch_size} trained {record['epochs_reached']:.2f} of its recipe's 400 epochs" in said[0]
    else:
        assert not said


def test_reuse_from_copies_finished_slices_and_computes_the_rest(ci_params, tmp_path):
    """A study that names a sibling run with the same params copies its finished slices (files equal,
    nothing recomputed) and computes only the others; other params are refused before anything is written."""
    outputs = tmp_path / "outputs"
    run_study(ci_params(experiment="base", strategies=["random"]), "cpu", outputs / "base", progress=False)
    before = {f.name: f.read_bytes() for f in (outputs / "base" / "slices" / "random-seed0").iterdir()
              if f.name != ".lock"}  # who last held the slice, not a result
    table = run_study(ci_params(experiment="grown", strategies=["random", "entropy"], reuse_from="base"), "cpu",
                      outputs / "grown", progress=False)
    copied = outputs / "grown" / "slices" / "random-seed0"
    provenance = json.loads((copied / "provenance.json").read_text())
    assert provenance["copied_from"] == str(outputs / "base" / "slices" / "random-seed0")
    assert provenance["runs"] == json.loads(before["provenance.json"])["runs"]  # no run of its own
    assert {name: (copied / name).read_bytes() for name in before if name != "provenance.json"} == \
        {name: data for name, data in before.items() if name != "provenance.json"}
    assert set(table.method) == {"random", "entropy"}
    with pytest.raises(ParamsError, match="reuse_from: .*other params \\(changed: epochs\\)"):
        run_study(ci_params(experiment="other", epochs=3, reuse_from="base"), "cpu", outputs / "other", progress=False)
    assert not (outputs / "other").exists()


def test_dirty_means_code_changed_not_shipped_outputs(tmp_path, monkeypatch):
    """A rerun or render of a shipped study rewrites tracked files under outputs/: that is no dirty code."""
    def git(*args):
        subprocess.run(["git", "-C", str(tmp_path), *args], check=True, capture_output=True)
    git("init", "-q")
    for name in ("l2ral_lib/loop.py", "outputs/study/results.csv"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("first\n")
    git("add", "-A")
    git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "first")
    monkeypatch.setattr(provenance_module, "PROJECT_ROOT", tmp_path)
    (tmp_path / "outputs/study/results.csv").write_text("rerun\n")
    assert provenance_module.git_commit()["dirty"] is False
    (tmp_path / "l2ral_lib/loop.py").write_text("changed\n")
    assert provenance_module.git_commit()["dirty"] is True
