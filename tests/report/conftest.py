"""The reports' shared fixtures: an outputs folder of several hand-made studies; a tiny study with stored picks
over the generated CIFAR-like pool."""
import json

import numpy as np
import pandas as pd
import pytest

from helpers import write_study
from l2ral_lib.data import load_dataset
from l2ral_lib.outputs import StudyFolder


@pytest.fixture
def several(tmp_path):
    out = tmp_path / "outputs"
    base = {"random": 0.0, "entropy": 1.0, "l2r": 2.0}
    write_study(out, "cifar10-smoke", "accuracy", base)
    write_study(out, "cifar10-ablations", "accuracy", {**base, "l2r-mse": 0.5})
    # growing: 2 of its 3 planned seeds run, Entropy stopped short of the second's last cycle (a method behind
    # the others); MAE falls as labels grow when the gains are negative
    folder = write_study(out, "shanghaitech-smoke", "mae", {"random": -1.0, "entropy": -1.5, "l2r": -2.0},
                         seeds=(0, 1), promised_seeds=(0, 1, 2))
    table = pd.read_csv(folder / "results.csv")
    behind = (table.method == "entropy") & (table.seed == 1) & (table.cycle == 2)
    table[~behind].to_csv(folder / "results.csv", index=False)
    (out / "summary").mkdir()  # the summary's own folder and the sorter report are no studies
    (out / "sorter").mkdir()
    (out / "sorter" / "sorter_quality.csv").write_text("kind,seq_len\n")
    return out


def write_slice(out, method, seed, selected: dict):
    """A slice folder holding only its stored picks ({cycle: pool indices})."""
    folder = out / "slices" / f"{method}-seed{seed}"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "selected.json").write_text(json.dumps({str(c): list(map(int, v)) for c, v in selected.items()}))


# --- a tiny fake study over the generated pool (120 images, class k = items 12k .. 12k + 11)


def fake_selected():
    """{(method, seed): {cycle: indices}}, 10 picks per queried cycle, chosen so that every number is known."""
    initial = {0: list(range(0, 120, 6)), 1: list(range(3, 120, 6))}
    picks = {}
    for seed in (0, 1):
        # entropy: class 1 at cycle 1, class 2 at cycle 2
        picks[("entropy", seed)] = {0: initial[seed], 1: list(range(12, 22)), 2: list(range(24, 34))}
        one_each = {1: [12 * k + 1 for k in range(10)], 2: [12 * k + 2 for k in range(10)]}
        if seed == 1:
            one_each[1] = list(range(36, 41)) + list(range(48, 53))  # five of class 3, five of class 4
        picks[("l2r", seed)] = {0: initial[seed], **one_each}
        rng = np.random.default_rng(seed)
        rest = [i for i in range(120) if i not in initial[seed]]
        drawn = rng.choice(rest, 20, replace=False).tolist()
        picks[("random", seed)] = {0: initial[seed], 1: drawn[:10], 2: drawn[10:]}
    return picks


@pytest.fixture
def fake_study(tmp_path, ci_params):
    params = ci_params(strategies=["random", "entropy", "l2r"], seeds=[0, 1], study="fake-picks")
    out = tmp_path / "fake-picks"
    StudyFolder(out).open(params)
    rows = []
    for (method, seed), selected in fake_selected().items():
        write_slice(out, method, seed, selected)
        for cycle in selected:
            rows.append(dict(dataset="cifar10", method=method, seed=seed, cycle=cycle,
                             n_labeled=params.labeled_at(cycle), metric="accuracy",
                             value=20.0 + 5 * cycle + seed + (method == "l2r")))
    pd.DataFrame(rows).to_csv(out / "results.csv", index=False)
    return out, params


@pytest.fixture
def study_data(fake_study):
    out, params = fake_study
    return out, params, load_dataset(params, "cpu")


@pytest.fixture
def slice_writer():
    return write_slice
