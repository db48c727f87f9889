"""Method names and colours (report/labels.py)."""
import matplotlib

matplotlib.use("Agg")

from l2ral_lib.report import figure_style, labels  # noqa: E402


def test_every_registered_strategy_has_a_label_and_its_own_colour():
    from l2ral_lib.strategies import list_strategies

    assert set(list_strategies()) <= set(labels.METHOD_LABELS)
    colours = figure_style.palette(list_strategies())
    assert len({colours[m] for m in list_strategies()}) == len(list_strategies())
