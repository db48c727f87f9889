"""The explore notebook's first cell (l2ral_lib.report.explore): the batch to detail is checked against the
study's stored picks, a method named by its key or its display name; a value the study lacks stops there with
the values it has; a dataset not on disk is said, not raised."""
import pandas as pd
import pytest

from l2ral_lib.report import explore
from l2ral_lib.report.picks import PICK_COLUMNS

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
