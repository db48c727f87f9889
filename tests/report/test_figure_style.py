"""The figures' one style (report/figure_style.py): no two methods look alike, a method unknown to the style
still gets one look, a figure is saved into its study's figures folder."""
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from l2ral_lib.report import figure_style  # noqa: E402
from l2ral_lib.report.labels import METHOD_ORDER  # noqa: E402


def test_no_two_methods_look_alike():
    looks = [figure_style.style(m) for m in METHOD_ORDER]
    assert set(METHOD_ORDER) <= set(figure_style.STYLES)
    assert len({(s.colour, s.marker) for s in looks}) == len(METHOD_ORDER)
    assert len({s.colour.lower() for s in looks}) == len(METHOD_ORDER)  # each colour used once


def test_an_unknown_method_gets_the_same_look_in_every_figure():
    assert figure_style.style("my-plugin") == figure_style.style("my-plugin") in figure_style._FALLBACK


def test_a_figure_is_saved_into_the_studys_figures_folder(tmp_path):
    ax = plt.subplots()[1]
    path = figure_style.save_figure(ax, tmp_path / "a-study", "curve")
    assert path == tmp_path / "a-study" / "figures" / "curve.png" and path.stat().st_size > 0
    plt.close("all")
