"""The explore notebook's first cell (l2ral_lib.report.explore): the batch to detail is checked against the
study's stored picks, a method named by its key or its display name; a value the study lacks stops there with
the values it has; a dataset not on disk is said, not raised; the explore notebook itself on the fake study of
conftest."""
import nbformat
import pandas as pd
import pytest

from helpers import ROOT
from l2ral_lib.report import explore
from l2ral_lib.report.study import PICK_COLUMNS

# l2r: seeds 0 and 1, cycles 0-2 at seed 0 but 0-1 at seed 1 (a slice stopped early); random: seed 0, cycles 0-2
PICKS = pd.DataFrame([("random", 0, c, c) for c in (0, 1, 2)] + [("l2r", 0, c, 10 + c) for c in (0, 1, 2)]
                     + [("l2r", 1, c, 20 + c) for c in (0, 1)], columns=PICK_COLUMNS)


@pytest.mark.parametrize("method", ["l2r", "L2R-AL", "l2r-al", " L2R-AL "])
def test_a_method_is_named_by_its_key_or_its_display_name(method):
    assert explore.choose(PICKS, method, 1, 1) == explore.Choice("l2r", 1, 1)
    assert str(explore.choose(PICKS, method, 0, 2)) == "L2R-AL (l2r), seed 0, cycle 2"


def test_the_choices_list_every_key_with_its_name_the_seeds_and_the_cycles():
    assert explore.choices(PICKS) == ("methods (key and name; either is accepted): random (Random), l2r (L2R-AL);"
                                      " seeds 0, 1; cycles 0-2 (0: the initial labeled set, c >= 1: the batch"
                                      " queried at cycle c)")


@pytest.mark.parametrize("method,seed,cycle,says", [
    ("L2R-AL (ours)", 0, 1, "method 'L2R-AL (ours)' is not in this study; methods (key and name; either is accepted): random (Random),"
                  " l2r (L2R-AL)"),
    ("random", 1, 1, "seed 1: Random has picks at seeds 0; "),
    ("L2R-AL", 1, 2, "cycle 2: L2R-AL seed 1 has picks at cycles 0, 1 (0: the initial labeled set); "),
    ("l2r", 0, 9, "cycle 9: L2R-AL seed 0 has picks at cycles 0-2 "),
])
def test_a_value_the_study_lacks_stops_with_the_values_it_has(method, seed, cycle, says):
    with pytest.raises(ValueError) as error:
        explore.choose(PICKS, method, seed, cycle)
    assert str(error.value).startswith(says) and str(error.value).endswith(explore.choices(PICKS))


def test_a_dataset_not_on_disk_is_none_and_the_reason(ci_params, tmp_path):
    data, missing = explore.dataset(ci_params(data_root=str(tmp_path)))
    assert data is None and str(tmp_path / "cifar10") in missing
    data, missing = explore.dataset(ci_params())
    assert data.n_pool > 0 and missing == ""


def test_explore_notebook_is_stripped_with_the_brief_parameters():
    import papermill

    path = ROOT / "notebooks" / "explore.ipynb"
    assert set(papermill.inspect_notebook(str(path))) == {"study_dir", "method", "seed", "cycle", "data_root",
                                                          "n_images"}
    cells = nbformat.read(path, as_version=4).cells
    assert all(not c.outputs and c.execution_count is None for c in cells if c.cell_type == "code")
    assert [c for c in cells if "parameters" in c.metadata.get("tags", [])][0].source.startswith(
        'study_dir: str = "outputs/cifar10-smoke"')


@pytest.mark.slow
def test_explore_notebook_runs_on_a_fake_study(fake_study, tiny_data_root, tmp_path):
    import papermill

    out, _ = fake_study
    executed = tmp_path / "explore.ipynb"
    papermill.execute_notebook(
        str(ROOT / "notebooks" / "explore.ipynb"), str(executed), cwd=str(ROOT), kernel_name="python3",
        progress_bar=False, parameters={"study_dir": str(out), "method": "L2R-AL", "seed": 1, "cycle": 1,
                                        "data_root": str(tiny_data_root)})
    cells = [c for c in nbformat.read(executed, as_version=4).cells if c.cell_type == "code"]
    outputs = [o for c in cells for o in c.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    figures = sum("image/png" in o.get("data", {}) for o in outputs)
    assert figures >= 5  # learning curve, classes, balance, Jaccard, gallery
    # the chosen (method, seed, cycle): L2R-AL's seed-1 cycle-1 batch, items 36..40 and 48..52
    detail = next(c for c in cells if "gallery.batch_detail(" in c.source)
    text = "".join(o.get("data", {}).get("text/plain", "") for o in detail.outputs)
    assert "36" in text and "52" in text and "cat" in text and "deer" in text
    assert not (out / "figures").exists()  # exploring writes nothing into the study
    # the bootstrap names the study it opened
    bootstrap = next(c for c in cells if "study.notebook_study(" in c.source)
    said = "".join(o.get("text", "") for o in bootstrap.outputs)
    assert "fake-picks: cifar10, 3 methods x 2 seeds x 3 cycles" in said
    assert "l2r (L2R-AL)" in said and "detailed below: L2R-AL (l2r), seed 1, cycle 1" in said


@pytest.mark.slow
def test_explore_notebook_stops_at_its_first_cell_on_a_value_the_study_lacks(fake_study, tmp_path):
    import papermill

    out, _ = fake_study
    executed = tmp_path / "explore.ipynb"
    with pytest.raises(papermill.PapermillExecutionError, match="cycle 9: L2R-AL seed 0 has picks at cycles 0-2"):
        papermill.execute_notebook(
            str(ROOT / "notebooks" / "explore.ipynb"), str(executed), cwd=str(ROOT), kernel_name="python3",
            progress_bar=False, parameters={"study_dir": str(out), "method": "l2r", "cycle": 9})
    cells = [c for c in nbformat.read(executed, as_version=4).cells if c.cell_type == "code"]
    failed = next(i for i, c in enumerate(cells) if any(o.output_type == "error" for o in c.outputs))
    assert "explore.choose(" in cells[failed].source and "methods (key and name" in "".join(
        o.get("text", "") for o in cells[failed].outputs)  # the valid values printed before the check
    assert all(c.execution_count is None for c in cells[failed + 1:])  # nothing heavy ran


@pytest.mark.slow
def test_explore_notebook_without_the_dataset_shows_the_overlap(fake_study, tmp_path):
    import papermill

    out, _ = fake_study
    executed = tmp_path / "explore.ipynb"
    papermill.execute_notebook(
        str(ROOT / "notebooks" / "explore.ipynb"), str(executed), cwd=str(ROOT), kernel_name="python3",
        progress_bar=False, parameters={"study_dir": str(out), "method": "entropy", "cycle": 2,
                                        "data_root": str(tmp_path / "no-data")})
    outputs = [o for c in nbformat.read(executed, as_version=4).cells if c.cell_type == "code" for o in c.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    text = "".join(o.get("text", "") + o.get("data", {}).get("text/plain", "") + o.get("data", {}).get("text/html", "")
                   for o in outputs)
    assert "need the dataset, which is not here" in text and "make data-offline" in text
    assert "Jaccard of the queried batches" in text and "Jaccard with Entropy at cycle 2" in text
