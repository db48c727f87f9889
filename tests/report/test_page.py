"""The sections every experiment notebook shares (l2ral_lib.report.page): what each method picked, on the fake
study of conftest, with and without its dataset."""
import math

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402

from l2ral_lib.report import page  # noqa: E402
from l2ral_lib.report.study import StudyResults  # noqa: E402


def test_show_picks_saves_every_figure_and_says_that_true_losses_are_missing(study_data):
    out, params, data = study_data
    study = StudyResults(out)
    section = page.show_picks(study, study.layout.params(), data, show=False)  # params.json's dict
    assert set(section["figures"]) == {"picks_classes", "picks_balance", "picks_jaccard", "picks_gallery"}
    for name, path in section["figures"].items():
        assert path == out / "figures" / f"{name}.png" and path.stat().st_size > 5_000, name
    assert section["histogram_table"].loc[("Entropy", 1), "automobile"] == 10.0
    assert section["pool_entropy"] == pytest.approx(math.log(10))
    assert "not available" in section["true_loss_note"] and "oracle-loss" in section["true_loss_note"]
    assert section["oracle_agreement"].empty
    assert not plt.get_fignums()  # every figure closed


def test_without_the_dataset_the_section_shows_the_overlap_and_says_why(fake_study, capsys):
    out, params = fake_study
    section = page.show_picks(StudyResults(out), params, None, missing="cifar10 not found: run make data-offline")
    printed = capsys.readouterr().out
    assert ("The pictures of the picks (and for classification their classes and balance) need the dataset, which is"
            " not here: cifar10 not found: run make data-offline") in printed
    assert set(section["figures"]) == {"picks_jaccard"} and section["data"] is None
    assert "histogram" not in section and len(section["jaccard"])
    assert "Jaccard of the queried batches" in printed  # the overlap table, printed outside a notebook

