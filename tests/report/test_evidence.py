"""What a study answers to one comparison of the paper (l2ral_lib.report.evidence): no study, a study with no
results yet, a stopped study counted by the seeds both methods finished."""
from l2ral_lib.paper import Comparison
from l2ral_lib.report import evidence
from l2ral_lib.report.study import Outputs


def test_a_comparison_is_answered_by_what_its_study_has(several):
    outputs = Outputs(several)
    missing = evidence.evidence(outputs, Comparison("cifar10-paper", "accuracy", "l2r", "random"))
    assert missing.study is None and not missing.run
    (several / "cifar10-smoke" / "results.csv").unlink()  # params recorded, no slice merged yet
    waiting = evidence.evidence(Outputs(several), Comparison("cifar10-smoke", "accuracy", "l2r", "random"))
    assert waiting.study.scale == "100-300 labels" and waiting.primary is None
    stopped = evidence.evidence(outputs, Comparison("shanghaitech-smoke", "mae", "l2r", "random"))
    assert stopped.study.n_seeds == 2 and stopped.study.standing == evidence.EXPLORATORY  # 2 of 3 promised
    assert stopped.primary.quantity == "AUBC" and stopped.secondary.quantity == "final" and stopped.run
    assert stopped.claimed_way()  # L2R-AL's MAE falls faster: lower is better
