"""The mutation figures from mutmut's results: killed / run per module, and every mutant that ran and
was not killed, with its mutation and the reason it survives (REASONS), as a markdown table.

    python tools/mutation/mutation_report.py TREE [TREE ...] [--scope GLOB ...] [--out tools/mutation/survivors.md]

TREE is a checkout in which `make mutation` (or `mutmut run NAMES`) ran, oldest first: a later tree's result
for a mutant replaces an earlier one (a survivor re-run against newer tests), so the trees must hold the same
code for the functions they share. A survivor no reason matches is listed as "NOT EXPLAINED" and the exit
status is 1: it is either a missing test or a reason to add here after reading it.
"""
import argparse
import collections
import fnmatch
import json
import re
import subprocess
import sys
from pathlib import Path

STATUS = {1: "killed", 3: "killed", 0: "survived", None: "not run", 36: "timeout", -24: "timeout", 24: "timeout",
          152: "timeout", 255: "timeout", -9: "timeout", -11: "segfault"}

# Why a mutant the tests cannot see changes nothing they could see; each was read by hand. The tests run on
# a CPU (the `gpu`-marked ones run the device paths on CUDA). Classes: a pattern on the added line(s).
REASONS = [
    (r"device=None|DROPPED device=|\.to\(None\)|_sorting_network\(d, steepness, None\)",
     "device placement: the same device on a CPU"),
    (r"dtype=None|DROPPED dtype=(pool\.dtype|permutation\.dtype)", "a dtype argument equal to the input's"),
    (r"DROPPED negative_slope=0\.01", "a keyword argument equal to its default"),
    (r"timed\(", "the label of a timing row (`ctx.timed`): a phase name, no result"),
    (r'raise \w+Error\(("\w+", )?(None\)|f?"XX|f?"[A-Z ]+"|f?"[^"]*XX")', "the text of an error message"),
    (r"log\.(info|warning)\(", "the text of a log line"),
]
# One-off equivalent mutants, by name (a renumbered function shows them as NOT EXPLAINED again: read them anew)
BY_NAME = {
    "heads.x_global_average_pool__mutmut_5": "`(+2, -1)` of a 4-d feature map are the dims `(-2, -1)`",
    "heads.xǁL2RHeadǁ__init____mutmut_1": "the default width: every caller passes `head_hidden` (strategies/test_loss_head)",
    "heads.xǁLossNetǁ__init____mutmut_1": "the default width: every caller passes it",
    "losses.x_ranking_loss__mutmut_9": "`squeeze(1)` of a (1, d) list, d > 1, is a no-op, and (1, d) ranks against "
                                       "(d,) broadcast to the same mean squared error",
    "strategies.bald.x_mutual_information__mutmut_6": "`sum(+1)` of the (N, C) mean is `sum(-1)`",
    "strategies.coreset.x__min_distances__mutmut_8": "device placement: the same device on a CPU",
    "strategies.coreset.x__min_distances__mutmut_12": "`float(\"INF\")` is `float(\"inf\")`",
    "strategies.coreset.x_kcenter_greedy__mutmut_32": "any negative marks a picked point (distances are >= 0)",
    "strategies.l2r.xǁL2RAllFeaturesǁbuild_head__mutmut_1": "`lossnet` ignores its params (one factory signature "
                                                            "with `l2r_head`)",
    "strategies.ll4al.xǁLearningLossǁbuild_head__mutmut_1": "`lossnet` ignores its params",
    "strategies.ll4al.xǁLearningLossǁ__init____mutmut_2": "`Strategy.task` is unused: queries read `ctx.task`",
    "strategies.loss_head.xǁLossHeadStrategyǁ__init____mutmut_2": "as `LearningLoss.__init____mutmut_2`",
    "strategies.loss_head.xǁLossHeadStrategyǁ__init____mutmut_3": "`Strategy.__init__` ignores its model (the "
                                                                   "subclasses read theirs)",
    "strategies.loss_head.xǁLossHeadStrategyǁzero_grad__mutmut_1": "every head parameter gets a gradient in each "
                                                                   "backward: zeroed and None gradients step alike",
    "strategies.loss_head.xǁLossHeadStrategyǁzero_grad__mutmut_2": "as `zero_grad__mutmut_1`",
    "strategies.vaal.x_shuffled_batches__mutmut_15": "the loader never ends: the tests hang (a timeout is a "
                                                     "detection, counted as not killed)",
    "strategies.vaal.xǁVAALǁquery__mutmut_35": "`augment=None` is falsy like `False`",
    "tasks.x_heatmap_argmax__mutmut_59": "clamp(min=1) differs only for peaks at 0 or 1, which Simple Baselines "
                                         "never shifts (1 < p < size - 1)",
    "tasks.x_heatmap_argmax__mutmut_69": "as `heatmap_argmax__mutmut_59`, in y",
    "tasks.x_pckh_counts__mutmut_25": "`norm(dim=+1)` of the (N, 2) head-box diagonals is `dim=-1`",
    "tasks.x_pckh_counts__mutmut_28": "`/ visible` makes invisible joints inf or nan, which the `* visible` mask "
                                      "removes from the counts as before",
    "tasks.xǁPoseEstimationǁpredictions__mutmut_2": "`shape[+2:]` of a 4-d map is `shape[-2:]`",
    "losses.x_diffsort_ranks__mutmut_32": "a dtype argument equal to the input's",
    "strategies.badge.x_kmeanspp_seeding__mutmut_48": "rounding only: float32 distances instead of float64 (which "
                                                      "guards the cumulative sum of large pools); the tests' pools "
                                                      "of at most 100 items are far from float32's rounding",
    "strategies.badge.x_kmeanspp_seeding__mutmut_52": "`float(\"INF\")` is `float(\"inf\")`",
    "strategies.badge.x_kmeanspp_seeding__mutmut_25": "two more uniforms drawn after the ones read (torch's CPU "
                                                      "generator gives the same prefix) from the query's own generator",
    "strategies.loss_head.xǁLossHeadStrategyǁ__init____mutmut_17": "device placement: the same device on a CPU",
    "strategies.base.x_register_strategy__mutmut_1": "as `tasks.x_register_task__mutmut_1`: import-time registration",
    "strategies.base.x_register_strategy__mutmut_2": "as `tasks.x_register_task__mutmut_1`",
    "strategies.base.x_register_strategy__mutmut_3": "as `tasks.x_register_task__mutmut_1`",
    "strategies.coreset.x__min_distances__mutmut_18": "chunks of one centre give the same minima (slower)",
    "strategies.loss_head.x_make_head_optimizer__mutmut_23": "MultiStepLR's default gamma is 0.1",
    "strategies.margin.x_margin__mutmut_5": "`topk` without `dim` takes the last, dim 1 of the (B, C) probabilities",
    "tasks.x_pckh_counts__mutmut_6": "a dtype argument equal to the input's: MPII's predictions and ground truth "
                                     "(joints, visibility, head boxes from gt_valid.mat) are float64",
    "tasks.x_pckh_counts__mutmut_10": "as `pckh_counts__mutmut_6`",
    "tasks.x_pckh_counts__mutmut_18": "as `pckh_counts__mutmut_6`",
    "tasks.x_pckh_from_counts__mutmut_5": "the counts are float64 sums of `pckh_counts`",
    "tasks.x_pckh_from_counts__mutmut_9": "as `pckh_from_counts__mutmut_5`",
    "tasks.x_register_task__mutmut_1": "import-time registration: the registry is filled before mutmut forks (a "
                                       "wrong registration fails every study test)",
    "tasks.x_register_task__mutmut_2": "as `register_task__mutmut_1`",
    "tasks.x_spearman__mutmut_8": "`np.asarray` of numbers without `dtype=float`: scipy ranks ints and floats alike",
    "tasks.x_spearman__mutmut_16": "as `spearman__mutmut_8`",
    "tasks.xǁPoseEstimationǁpredictions__mutmut_11": "a heatmap's width and height are exact in float32, and "
                                                     "arithmetic with the float64 coordinates is float64",
    "loop.x_open_study__mutmut_1": "the default of `progress`, a display switch that every caller passes",
    "loop.x_open_study__mutmut_75": "`progress=None` is falsy: the progress display, no result",
    "loop.x_open_study__mutmut_80": "`Study`'s default `progress`: the progress display, no result",
    "seeds.x_query_subset__mutmut_23": "`candidates[:None]` is `candidates`: the None branch is redundant",
}


def verdicts(folder: Path) -> dict[str, int | None]:
    """Mutant name -> mutmut's exit code (None: not run), over every `.meta` under `folder`."""
    status = {}
    for meta in folder.rglob("*.meta"):
        status.update(json.loads(meta.read_text())["exit_code_by_key"])
    return status


def in_scope(name: str, scope: list[str]) -> bool:
    return any(fnmatch.fnmatch(name, glob) for glob in scope)


def mutation(tree: Path, key: str, python: str) -> str:
    """The removed and added lines of one mutant, joined (mutmut show in its tree)."""
    shown = subprocess.run([python, "-m", "mutmut", "show", key], cwd=tree, capture_output=True, text=True).stdout
    lines = [line for line in shown.splitlines() if line[:1] in "-+" and line[:3] not in ("---", "+++")]
    return " / ".join(" ".join(line.split()) for line in lines)


def sides(change: str) -> tuple[list[str], list[str]]:
    """The removed and the added lines of a `mutation` string."""
    lines = change.split(" / ")
    return [line for line in lines if line.startswith("-")], [line for line in lines if line.startswith("+")]


def dropped_keyword(change: str) -> str | None:
    """`kw=value` when the mutant only removes that keyword argument (or a call's last positional one)."""
    removed, added = (" ".join(line[1:].strip() for line in side) for side in sides(change))
    tidy = lambda text: re.sub(r",\s*\)", ")", re.sub(r"\s+", "", text))  # noqa: E731
    for argument in re.findall(r"(?:\w+=)?[\w.\"]+", removed):
        for pattern in (rf",\s*{re.escape(argument)}(?=\s*[,)])", rf"{re.escape(argument)},\s*"):
            if tidy(re.sub(pattern, "", removed, count=1)) == tidy(added):
                return argument
    return None


def reason(key: str, change: str) -> str | None:
    if key.removeprefix("l2ral_lib.") in BY_NAME:
        return BY_NAME[key.removeprefix("l2ral_lib.")]
    added = " ".join(sides(change)[1])
    dropped = dropped_keyword(change)
    if dropped:
        added += f" DROPPED {dropped}"
    for pattern, why in REASONS:
        if re.search(pattern, added):
            return why
    return None


def module(key: str) -> str:
    return key.split("__mutmut_")[0].removeprefix("l2ral_lib.").split(".x")[0]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("trees", nargs="+", type=Path)
    parser.add_argument("--out", type=Path, help="write the survivors' table here (markdown)")
    parser.add_argument("--scope", nargs="+", default=["*"], help="mutant name globs to count (MUTANTS in the Makefile)")
    parser.add_argument("--python", default=sys.executable, help="the interpreter with mutmut installed")
    args = parser.parse_args()
    final, where = {}, {}
    for tree in args.trees:
        for key, code in verdicts(tree / "mutants").items():
            if not in_scope(key, args.scope):
                continue
            if code is not None or key not in final:
                final[key], where[key] = code, tree
    counts = collections.defaultdict(collections.Counter)
    for key, code in final.items():
        counts[module(key)][STATUS.get(code, f"exit {code}")] += 1
    total = collections.Counter()
    for name, count in sorted(counts.items()):
        total.update(count)
        ran = sum(count.values()) - count["not run"]
        print(f"{name:30s} killed {count['killed']:4d} / {ran:4d} run" + (f"  ({count['not run']} not run)" if count["not run"] else ""))
    ran = sum(total.values()) - total["not run"]
    print(f"{'all':30s} killed {total['killed']:4d} / {ran:4d} run = {100 * total['killed'] / max(ran, 1):.1f} %"
          f"  ({total['not run']} not run, {total['timeout']} timeouts)")
    rows, unexplained = [], 0
    for key in sorted(k for k, code in final.items() if STATUS.get(code) not in ("killed", "not run")):
        change = mutation(where[key], key, args.python)
        why = reason(key, change)
        unexplained += why is None
        change = change.replace("|", "\\|").replace("`", "'")
        rows.append(f"| `{key.removeprefix('l2ral_lib.')}` | {STATUS.get(final[key])} | `{change}` | {why or 'NOT EXPLAINED'} |")
    print(f"{len(rows)} not killed, {unexplained} not explained")
    if args.out:
        args.out.write_text("# Mutants that ran and were not killed\n\n`python tools/mutation/mutation_report.py "
                            + " ".join(str(t) for t in args.trees) + "` (see its docstring)\n\n"
                            "| mutant | status | mutation (removed / added) | why the tests cannot see it |\n"
                            "|---|---|---|---|\n" + "\n".join(rows) + "\n")
    return 1 if unexplained else 0


if __name__ == "__main__":
    sys.exit(main())
