"""What a reader sees: the shipped studies (outputs/) drawn and laid out as the notebooks draw them, checked
on the rendered figure -- nothing written over anything else, every study on the summary page, nothing
cut short in a table's HTML."""
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402

from helpers import ROOT  # noqa: E402
from l2ral_lib.report import figure_style, figures, summary, tables  # noqa: E402
from l2ral_lib.report.study import find_studies  # noqa: E402

OUTPUTS = ROOT / "outputs"


@pytest.fixture(scope="module")
def studies():
    found = find_studies(OUTPUTS)
    if not found:
        pytest.skip("no shipped studies under outputs/")
    return {s.name: s for s in found}


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def margin_texts(ax):
    """The 'paper @N' label and the listed off-scale values: the texts right of the axes."""
    right = ax.get_window_extent().x1
    ax.figure.canvas.draw()
    renderer = ax.figure.canvas.get_renderer()
    return [t for t in ax.texts if t.get_window_extent(renderer).x0 > right - 1]


def assert_clear(ax):
    """Legend outside the axes, and neither it nor the margin's texts over the title or each other."""
    fig = ax.figure
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    legend = ax.get_legend().get_window_extent(renderer)
    assert legend.x0 >= ax.get_window_extent(renderer).x1
    title = ax.title.get_window_extent(renderer)
    boxes = [t.get_window_extent(renderer) for t in margin_texts(ax)]
    assert not legend.overlaps(title)
    for box in boxes:
        assert not box.overlaps(legend) and not box.overlaps(title)
    for i, a in enumerate(boxes):
        assert not any(a.overlaps(b) for b in boxes[i + 1:])


@pytest.mark.parametrize("name", ["cifar10-budget", "cifar10-ablations", "celeba-modern-smoke", "shanghaitech-smoke"])
def test_a_studys_learning_curve_reads_cleanly(studies, name, tmp_path):
    study = studies[name]
    ax = figures.learning_curve(study.table, study.metric, paper=study.paper, paper_at=study.paper_at, title=name,
                                grid=study.grid)
    assert_clear(ax)
    floor, ceiling = figure_style.metric_range(study.metric)
    for band in ax.collections:
        y = band.get_paths()[0].vertices[:, 1]
        assert y.min() >= floor and y.max() <= ceiling
    if len(set(study.table[study.table.metric == study.metric].method)) > figures.MANY_METHODS:
        assert len(ax.collections) == 2  # L2R-AL's band and the best baseline's
    assert study.paper and "paper's final values" in figure_style.caption(ax)  # every one of these has the paper's numbers
    assert figure_style.save_figure(ax, tmp_path, name).stat().st_size > 20_000


def test_the_budget_studys_paper_marks_sit_in_the_right_margin(studies):
    study = studies["cifar10-budget"]
    ax = figures.learning_curve(study.table, "accuracy", paper=study.paper, paper_at=study.paper_at)
    ax.figure.canvas.draw()
    right = ax.get_window_extent().x1
    renderer = ax.figure.canvas.get_renderer()
    marks = [line for line in ax.get_lines() if line.get_linestyle() == "None" and len(line.get_xdata())]
    assert len(marks) == 6 and all(m.get_window_extent(renderer).x0 > right for m in marks)


def test_the_summary_page_shows_every_study(studies):
    table = summary.study_table(list(studies.values()))
    html = tables.html(table)
    assert list(table.columns.get_level_values("study")) == sorted(studies)
    assert "cifar10-budget" in html and "..." not in html
    matrix = summary.aggregate_penalty(list(studies.values()))
    assert sorted(matrix.attrs["studies"]) == sorted(studies)  # cifar10-budget included
    assert ["cifar10-budget"] in matrix.attrs["settings"]
    ax = figures.penalty_heatmap(matrix, title=summary.aggregate_title(matrix))
    assert len(matrix) > figures.NUMBERED_CELLS and not ax.texts  # colours and a colour bar, no numbers


@pytest.mark.parametrize("name", ["cifar10-ablations", "cifar10-budget"])
def test_summary_panels_read_cleanly(studies, name, tmp_path):
    curve, aubc, penalty = summary.study_figures(studies[name])
    assert_clear(curve)
    fig = curve.figure
    renderer = fig.canvas.get_renderer()
    legend = curve.get_legend().get_window_extent(renderer)
    for ax in (aubc, penalty):
        assert not legend.overlaps(ax.get_window_extent(renderer))
        assert not legend.overlaps(ax.title.get_window_extent(renderer))
    assert not aubc.get_tightbbox(renderer).overlaps(penalty.get_window_extent(renderer))
    width, height = fig.get_size_inches()
    assert width <= 14 and height >= 10  # about a notebook's output width: shown near 1:1, so 8 pt stays 8 pt
    assert figure_style.save_figure(fig, tmp_path, name).stat().st_size > 50_000
