"""notebook.py: how a partial render lists what it lacks."""
import pandas as pd

from l2ral_lib.notebook import unfinished


def states(rows):
    return pd.DataFrame([dict(method=m, seed=s, cycles=c, state=st, log=log) for m, s, c, st, log in rows],
                        columns=["method", "seed", "cycles", "state", "log"])


def test_seeds_no_method_started_are_one_line_and_every_other_slice_a_row():
    every = states([("random", 0, "5/5", "done", ""), ("l2r", 0, "5/5", "done", ""),
                    ("random", 1, "2/5", "not submitted", ""),   # a local run stopped in seed 1: its own row
                    ("l2r", 1, "0/5", "not submitted", ""),      # seed 1 is started: a row too
                    ("random", 2, "0/5", "not submitted", ""), ("l2r", 2, "0/5", "not submitted", ""),
                    ("random", 3, "0/5", "failed: killed", "jobs/9_0_log.err"),  # a task's failure keeps its log
                    ("l2r", 3, "0/5", "not submitted", ""),
                    ("random", 4, "0/5", "not submitted", ""), ("l2r", 4, "0/5", "not submitted", ""),
                    ("random", 5, "5/5", "done", ""), ("l2r", 5, "0/5", "not submitted", "")])  # seed 5 half done
    lines = unfinished(every).splitlines()
    assert lines[-1] == "seeds 2, 4: not started by any method"
    rows = [line.split()[:3] for line in lines[1:-1]]
    assert rows == [["random", "1", "2/5"], ["l2r", "1", "0/5"], ["random", "3", "0/5"], ["l2r", "3", "0/5"],
                    ["l2r", "5", "0/5"]]
    assert "jobs/9_0_log.err" in lines[3]


def test_a_seed_the_plan_gives_fewer_methods_is_one_line_too():
    """strategy_seeds: seed 7 plans l2r alone (its rows are the planned slices), and no slice of it started."""
    every = states([("random", 6, "5/5", "done", ""), ("l2r", 6, "5/5", "done", ""), ("l2r", 7, "0/5", "not submitted", "")])
    assert unfinished(every).splitlines() == ["seed 7: not started by any method"]


def test_without_untouched_seeds_the_rows_alone():
    every = states([("random", 0, "5/5", "done", ""), ("l2r", 0, "3/5", "running (task 7_1)", "")])
    assert unfinished(every).splitlines()[1].split()[:3] == ["l2r", "0", "3/5"]
