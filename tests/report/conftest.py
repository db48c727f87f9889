"""The reports' shared fixture: an outputs folder of several hand-made studies."""
import pytest

from helpers import write_study


@pytest.fixture
def several(tmp_path):
    out = tmp_path / "outputs"
    base = {"random": 0.0, "entropy": 1.0, "l2r": 2.0}
    write_study(out, "cifar10-smoke", "accuracy", base)
    write_study(out, "cifar10-ablations", "accuracy", {**base, "l2r-mse": 0.5})
    # stopped after 2 of its 3 seeds; MAE falls as labels grow when the gains are negative
    write_study(out, "shanghaitech-smoke", "mae", {"random": -1.0, "l2r": -2.0}, seeds=(0, 1), promised_seeds=(0, 1, 2))
    (out / "summary").mkdir()  # the summary's own folder and the sorter report are no studies
    (out / "sorter").mkdir()
    (out / "sorter" / "sorter_quality.csv").write_text("kind,seq_len\n")
    return out
