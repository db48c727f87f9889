"""README's generated Results tables (report/readme.py)."""
import matplotlib

matplotlib.use("Agg")
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from helpers import ROOT  # noqa: E402
from l2ral_lib.report import readme  # noqa: E402
from l2ral_lib.report.study import find_studies  # noqa: E402


def test_readme_tables_give_the_final_and_aubc_of_each_method(several):
    """Final-cycle mean and AUBC mean against numpy on the raw rows; the stopped study says so."""
    text = readme.results_markdown(find_studies(several))
    table = pd.read_csv(several / "cifar10-smoke" / "results.csv")
    l2r = table[(table.method == "l2r") & (table.metric == "accuracy")].pivot(index="seed", columns="cycle",
                                                                             values="value")
    final = l2r[2].mean()
    aubc = np.mean([np.trapezoid(row, [0, 0.5, 1]) for row in l2r.values])
    block = text.split("**cifar10-smoke**")[1].split("**")[0]
    line = next(line for line in block.splitlines() if line.startswith("| L2R-AL |"))
    assert f"| {final:.4g}  [" in line and f"| {aubc:.4g}  [" in line
    assert ("**shanghaitech-smoke** (MAE (lower is better); 2 of 3 seeds; finished: no:"
            " Entropy incomplete: 1/2 seeds with all 3 cycles;") in text
    assert readme.results_page(find_studies(several)).endswith(f"\n\n{text}\n")


def test_readme_ranking_table_is_the_experiments_pool_table(tmp_path):
    """The block between the ranking markers becomes pool_table.md as written, the rest untouched."""
    (tmp_path / "loss_ranking").mkdir()
    (tmp_path / "loss_ranking" / "pool_table.md").write_text("| a | b |\n|---|---|\n| 1 | 2 |\n")
    text = f"intro\n{readme.RANKING_START}\n| old |\n{readme.RANKING_END}\nrest\n"
    assert readme.rendered_ranking(text, tmp_path) == (
        f"intro\n{readme.RANKING_START}\n| a | b |\n|---|---|\n| 1 | 2 |\n{readme.RANKING_END}\nrest\n")


def test_generated_pages_are_the_committed_results():
    """README's generated blocks, docs/claims.md and docs/results.md are regenerated from outputs/ as
    committed: a number edited by hand, or a study rerun without `make readme-results`, fails here."""
    for name, render in readme.generated_pages(ROOT / "outputs", find_studies(ROOT / "outputs")).items():
        committed = (ROOT / name).read_text()
        assert render(committed) == committed, name


def test_renew_pages_writes_only_the_stale_pages_and_check_writes_nothing(tmp_path):
    """`readme-results` (report.readme.renew_pages): --check reports a stale page and its exit status 1, the
    run rewrites that page alone."""
    for name in ("README.md", "docs/claims.md", "docs/results.md"):
        (tmp_path / name).parent.mkdir(exist_ok=True)
        (tmp_path / name).write_text((ROOT / name).read_text())
    (tmp_path / "docs" / "results.md").write_text("edited by hand")
    outputs = ROOT / "outputs"
    n = len(find_studies(outputs))
    assert readme.renew_pages(tmp_path, outputs, check=True) == (1, f"results.md differ from {n} studies under {outputs}")
    assert (tmp_path / "docs" / "results.md").read_text() == "edited by hand"
    assert readme.renew_pages(tmp_path, outputs) == (0, f"results.md: updated ({n} studies)")
    assert (tmp_path / "docs" / "results.md").read_text() == (ROOT / "docs" / "results.md").read_text()
