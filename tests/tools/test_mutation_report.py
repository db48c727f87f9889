"""tools/mutation/mutation_report.py: which survivors it explains, and which it must leave for a reader."""
import sys

from helpers import ROOT

sys.path.insert(0, str(ROOT / "tools" / "mutation"))
import mutation_report  # noqa: E402


def test_a_dropped_keyword_is_found_and_classed_by_what_it_was():
    device = "- picks = torch.empty(budget, dtype=torch.long, device=h.device) / + picks = torch.empty(budget, dtype=torch.long, )"
    assert mutation_report.dropped_keyword(device) == "device=h.device"
    assert mutation_report.reason("x", device).startswith("device placement")
    dtype = "- picked = torch.zeros(n, dtype=torch.bool, device=h.device) / + picked = torch.zeros(n, device=h.device)"
    assert mutation_report.dropped_keyword(dtype) == "dtype=torch.bool"
    assert mutation_report.reason("x", dtype) is None  # a bool mask made float is no harmless dtype: read it


def test_behaviour_changes_are_not_explained():
    for change in ['- if params.head_optimizer == "adam": / + if params.head_optimizer != "adam":',
                   "- return {\"correct\": (output.argmax(1) == target).sum()} / + return {\"correct\": (output.argmax(1) != target).sum()}",
                   "- optimizer = torch.optim.SGD(p, lr=params.head_lr, momentum=params.head_momentum, / + optimizer = torch.optim.SGD(p, lr=params.head_lr,"]:
        assert mutation_report.dropped_keyword(change) in (None, "momentum=params.head_momentum")
        assert mutation_report.reason("l2ral_lib.tasks.x_something__mutmut_1", change) is None


def test_classes_and_names():
    assert mutation_report.reason("x", '- ctx.timed("score") / + ctx.timed("XXscoreXX")').startswith("the label")
    assert mutation_report.reason("x", '- log.info("%s", a) / + log.info("%s", None)') == "the text of a log line"
    assert mutation_report.reason("l2ral_lib.seeds.x_query_subset__mutmut_23", "anything").startswith("`candidates[:None]`")
    assert mutation_report.module("l2ral_lib.strategies.badge.x_kmeanspp_seeding__mutmut_31") == "strategies.badge"


def test_a_params_error_keeps_its_key_while_its_text_is_mutated():
    """ParamsError(key, text): the text mutated is harmless, the key or the condition is not."""
    for change in ['- raise ParamsError("bald_passes", f"({p}) a single pass") / + raise ParamsError("bald_passes", None)',
                   '- raise ParamsError("dropout", "bald samples") / + raise ParamsError("dropout", "XXbald samplesXX"']:
        assert mutation_report.reason("x", change) == "the text of an error message", change
    for change in ['- raise ParamsError("dropout", "bald samples") / + raise ParamsError(None, "bald samples")',
                   "- if params.bald_passes < 2: / + if params.bald_passes <= 2:"]:
        assert mutation_report.reason("x", change) is None, change
