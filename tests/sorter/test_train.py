"""Sorter training (sorter/train.py): SoDeep's recipe, resumable training, the gru recipe and the CLI (the
notebook: e2e/test_notebooks.py)."""
import json

import pytest
import torch

from l2ral_lib.sorter import FrozenSorter, build_sorter, train as sorter_training, weights_hash
from l2ral_lib.sorter.quality import rank_quality
from l2ral_lib.sorter.synthetic import FAMILIES
from l2ral_lib.sorter.train import SoDeepRecipe, checkpoint_path, main, sodeep_held_out, train_gru, train_sodeep


def test_recipe_is_train_py_defaults():
    recipe = SoDeepRecipe(64)
    assert (recipe.epochs, recipe.batch, recipe.lr, recipe.lr_step, recipe.lr_gamma) == (400, 256, 1e-3, 70, 0.5)
    # SeqDataset(nb_sample=400000), 10% held out, DataLoader(batch_size=256) keeps the last 64
    assert recipe.steps_per_epoch == 1407 and recipe.batch_size(1405) == 256 and recipe.batch_size(1406) == 64
    # StepLR(70, 0.5) stepped at the start of every epoch after the constructor's step: epoch e runs
    # at step count e + 1, so the first halving comes in the 70th epoch (index 69)
    assert [recipe.lr_at(e) for e in (0, 68, 69, 138, 139, 399)] == [1e-3, 1e-3, 5e-4, 5e-4, 2.5e-4, 1e-3 / 32]


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


def test_resuming_a_shipped_sorter_without_its_checkpoint_says_where_the_checkpoints_are(tmp_path, monkeypatch,
                                                                                        no_training, capsys):
    """An installed copy ships the weights, not the training checkpoints (pyproject.toml's package data)."""
    from l2ral_lib.sorter import weights as sorter_weights

    (tmp_path / "sodeep-64.pt").write_bytes(b"weights")
    monkeypatch.setattr(sorter_weights, "WEIGHTS_DIR", tmp_path)
    monkeypatch.setattr(sorter_training, "WEIGHTS_DIR", tmp_path)
    assert main(["--seq-len", "64", "--resume", "--force"]) == 2
    assert capsys.readouterr().err == (f"error: no checkpoint {tmp_path / 'sodeep-64.ckpt'} to resume; the shipped"
                                       " sorters' checkpoints are in a checkout of the project; drop --resume to start"
                                       " afresh\n")
    assert main(["--seq-len", "4", "--out", str(tmp_path / "mine" / "own.pt"), "--resume"]) == 2
    assert capsys.readouterr().err == (f"error: no checkpoint {tmp_path / 'mine' / 'own.ckpt'} to resume; drop --resume"
                                       " to start afresh\n")
