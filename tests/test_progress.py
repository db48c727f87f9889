"""One log line per finished (method, seed, cycle): metrics, elapsed time, time left; resumed cycles counted."""
import logging
import re

import pandas as pd

from l2ral_lib import progress
from l2ral_lib.loop import run_study
from l2ral_lib.outputs import SliceFolder

LINE = re.compile(r"(?P<study>\S+): (?P<method>\S+) seed (?P<seed>\d+) cycle (?P<cycle>\d+) \[(?P<k>\d+)/(?P<n>\d+)\]"
                  r" \((?P<labeled>\d+) labeled\): (?P<metrics>.*) \| (?P<done>\d+)/(?P<total>\d+) cycles done,"
                  r" elapsed (?P<elapsed>\S+), left ~(?P<left>\S+)$")


def lines(caplog):
    return [LINE.match(r.getMessage()) for r in caplog.records if r.name == "l2ral_lib.progress"]


def test_counts_resumed_cycles_and_estimates_time_left(tmp_path, monkeypatch, caplog):
    resumed, fresh, lagging, committed = (SliceFolder(tmp_path / name) for name in "abcd")
    for folder, cycles in ((resumed, 2), (lagging, 1), (committed, 4)):
        folder.path.mkdir()
        pd.DataFrame({"cycle": [c for c in range(cycles) for _ in range(2)], "metric": ["accuracy", "time_train_s"] * cycles}
                     ).to_csv(folder.path / "rows.csv")
    for folder in (resumed, lagging):  # lagging: a kill between state and view left its view one short
        folder.state_file.write_bytes(b"")
    # committed: its rows are in git, its state is not (a fresh clone): every cycle is still to do
    assert [f.cycles_saved() for f in (resumed, fresh, lagging, committed)] == [2, 0, 1, 0]
    clock = iter([100.0, 130.0, 160.0, 200.0])
    monkeypatch.setattr(progress.time, "perf_counter", lambda: next(clock))
    caplog.set_level(logging.INFO, logger="l2ral_lib")
    tracker = progress.StudyProgress("x", {("l2r", 0): resumed.cycles_saved(), ("random", 0): fresh.cycles_saved(),
                                          ("vaal", 0): lagging.cycles_saved()}, 4, ("accuracy", "spearman"))
    assert tracker.done == 2 + 0 + 1 and tracker.total == 12
    tracker.cycle_done("l2r", 0, 2, 300, {"accuracy": 61.23456, "spearman": 0.5, "time_train_s": 3.0})
    tracker.cycle_done("random", 0, 0, 100, {"accuracy": 40.0})
    tracker.cycle_done("vaal", 0, 2, 300, {"accuracy": 50.0})  # its view said 1 cycle, state said 2
    first, second, third = (m.groupdict() for m in lines(caplog))
    assert first["metrics"] == "accuracy 61.23, spearman 0.5" and (first["k"], first["n"]) == ("3", "4")
    # 4 of 12 done (2 before, 1 from vaal's view, this one): 30 s for 1 cycle x 8 still to do
    assert (first["done"], first["elapsed"], first["left"]) == ("4", "30s", "4m00s")
    assert (second["done"], second["elapsed"], second["left"]) == ("5", "1m00s", "3m30s")  # 30 s a cycle, 7 left
    # vaal: 1 cycle counted from its view, 1 more found when it reports cycle 2, + this one; 100 s / 3 x 5 left
    assert (third["done"], third["left"]) == ("7", "2m47s")
    assert third["metrics"] == "accuracy 50"


def test_duration_formats():
    assert [progress.duration(s) for s in (0.4, 59, 61, 3599, 3600, 7265)] == ["0s", "59s", "1m01s", "59m59s",
                                                                             "1h00m", "2h01m"]


def test_log_to_stderr_once_to_the_current_stderr(capsys):
    progress.log_to_stderr()
    progress.log_to_stderr()
    logging.getLogger("l2ral_lib.progress").info("hello %d", 1)
    assert capsys.readouterr().err.count("hello 1") == 1


def test_a_study_logs_every_cycle_with_its_metrics(ci_params, tmp_path, caplog):
    params = ci_params(strategies=["random", "l2r"], seeds=[0])
    caplog.set_level(logging.INFO, logger="l2ral_lib")
    run_study(params, "cpu", tmp_path, only=[("random", 0)], progress=False)
    caplog.clear()
    table = run_study(params, "cpu", tmp_path, progress=False)  # random is done: resumed, only l2r runs
    found = [m.groupdict() for m in lines(caplog)]
    n = params.n_cycles
    assert [(f["method"], int(f["cycle"]), int(f["done"]), int(f["total"])) for f in found] == \
        [("l2r", c, n + c + 1, 2 * n) for c in range(n)]
    accuracy = table[(table.method == "l2r") & (table.metric == "accuracy")].set_index("cycle").value
    spearman = table[(table.method == "l2r") & (table.metric == "spearman")].set_index("cycle").value
    for f in found:
        cycle = int(f["cycle"])
        assert f["metrics"] == f"accuracy {accuracy[cycle]:.4g}, spearman {spearman[cycle]:.4g}"
        assert int(f["labeled"]) == params.labeled_at(cycle) and f["study"] == params.study
    assert found[-1]["left"] == "0s"
