"""The seeds a study needs, from the paired spread of its finished seeds: for the claimed method against
each reference, the seeds at which the paired t-test on AUBC detects a true difference of --effect (in the
metric's units) with 80 % power at level 0.05 / m (report.claims.seed_plan). Then the plan as params: the
claimed method on the most seeds any comparison needs, each reference on its own (`strategy_seeds`).

    python experiments/seed_plan.py outputs/shanghaitech-cpu --claimed l2r --references random entropy coreset ll4al --effect 2 \
        --seeds 0 1 2 3 4 5 6 7 8 9
"""
import argparse

from l2ral_lib.report.claims import MOST_SEEDS, seed_plan
from l2ral_lib.report.readme import markdown
from l2ral_lib.report.study import StudyResults


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("study", help="a study folder (outputs/<study>)")
    parser.add_argument("--claimed", default="l2r")
    parser.add_argument("--references", nargs="+", required=True)
    parser.add_argument("--effect", type=float, required=True, help="the AUBC difference to detect, metric units")
    parser.add_argument("--seeds", type=int, nargs="+", help="plan from these seeds only (a pilot's; default: all finished)")
    args = parser.parse_args()
    study = StudyResults(args.study)
    plan = seed_plan(study, args.claimed, args.references, args.effect, args.seeds)
    # fewer than two seeds: no spread to plan from
    plan["seeds_needed"] = [("-" if n_seeds < 2 else f"> {MOST_SEEDS}") if n is None or n != n else int(n)
                            for n, n_seeds in zip(plan.seeds_needed, plan.n_seeds)]
    print(f"{study.name}: {args.claimed} against each reference, AUBC of {study.metric}, a true difference of"
          f" {args.effect:g} detected with 80 % power at 0.05 / {len(args.references)}")
    print(markdown(plan.set_index("reference").round({"mean_diff": 2, "sd": 2}).astype(str)))
    needed = dict(zip(plan.reference, plan.seeds_needed))
    if all(isinstance(n, int) for n in needed.values()):
        most = max(needed.values())
        caps = ", ".join(f"{reference}: {n}" for reference, n in needed.items() if n < most)
        print(f"as params: seeds, {most} of them (the claimed method and every reference needing {most} run on all);"
              f" strategy_seeds: {{{caps}}}")
    else:
        print("as params: no plan (a comparison has no spread to plan from, or needs more seeds than it can have)")


if __name__ == "__main__":
    main()
