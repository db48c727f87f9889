"""Run the L2R-AL active-learning study and its baselines without Jupyter.

examples:
  python -m l2ral_lib check params/cifar10-smoke.yaml          validate params, data and weights; writes nothing
  python -m l2ral_lib run params/cifar10-smoke.yaml --device cpu --out outputs/cifar10-smoke
  python -m l2ral_lib run params/cifar10-paper.yaml --device cuda --jobs 6    6 (method, seed) slices at once
  python -m l2ral_lib run params/cifar10-ci.yaml --set data_root=/data --only l2r:0 random:0
  python -m l2ral_lib run params/cifar10-paper.yaml --executor slurm --wait --set cluster.partition=gpu
                                                               a Slurm array task per slice (docs/running.md "On a cluster")
  python -m l2ral_lib status outputs/cifar10-paper            cycles finished and state of every slice
  python -m l2ral_lib merge outputs/cifar10-smoke             rebuild results.csv and provenance.json
  python -m l2ral_lib verify outputs/cifar10-smoke l2r:0       rerun one shipped slice, compare to the last digit
  python -m l2ral_lib compare outputs/cifar10-smoke           a study rerun in place against its committed copy
  python -m l2ral_lib list                                     strategies, datasets, models, every params key
  python -m l2ral_lib sorter --help                            pretrain a differentiable sorter
  python -m l2ral_lib templates my-study                       the params profiles and notebooks, to edit and run
  python -m l2ral_lib query --images DIR --labels labels.csv --budget 20 --strategy l2r --out next.csv
                                                               your images: which to label next (docs/extending.md)

Installed with pip, `l2ral` is the same command (`l2ral run params/cifar10-smoke.yaml`), run from the folder
`l2ral templates` filled: relative paths and the default data folder (data/) are then the working directory's.

Invalid params, missing data or weights stop with one line naming the key or path, exit status 2,
before anything is written. A study killed at any point resumes when the same command runs again.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import yaml

from .errors import DataError, ParamsError, PluginError
from .paths import PROJECT_ROOT, is_checkout, project_root


def _slice(text: str) -> tuple[str, int]:
    method, _, seed = text.rpartition(":")
    if not method or not seed.lstrip("-").isdigit():
        raise argparse.ArgumentTypeError(f"expected METHOD:SEED, got '{text}'")
    return method, int(seed)


def _override(text: str) -> tuple[str, object]:
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got '{text}'")
    return key, yaml.safe_load(value)


def _prog() -> str:
    """The command as it was typed: the console script `l2ral`, else `python -m l2ral_lib`."""
    return "l2ral" if Path(sys.argv[0]).name == "l2ral" else "python -m l2ral_lib"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=_prog(), description=__doc__.split("\n\n")[0],
                                     epilog="\n\n".join(__doc__.split("\n\n")[1:]),
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _run_parser(commands)
    check = commands.add_parser("check", help="find every failure a params file can cause, writing nothing",
                                description="Validate the params, then load the data on the CPU and check sizes,"
                                            " pretrained and sorter weights and each strategy's input needs.")
    check.add_argument("params")
    check.add_argument("--set", type=_override, action="append", default=[], metavar="KEY=VALUE",
                       help="override a params key, as for run")
    check.add_argument("--device", default="auto", help="the device whose gpu-check figures project each method's"
                                                         " time: cpu | cuda | auto (default)")
    merge = commands.add_parser("merge", help="rebuild results.csv and provenance.json from the slices of DIR")
    merge.add_argument("out", metavar="DIR")
    _verify_parser(commands)
    _compare_parser(commands)
    _readme_parser(commands)
    status = commands.add_parser("status", help="cycles finished and state (done, queued, running, failed) of every"
                                                " slice of the study in DIR")
    status.add_argument("out", metavar="DIR")
    commands.add_parser("list", help="strategies, datasets, models and every params key with default and meaning")
    commands.add_parser("sorter", help="pretrain a differentiable sorter (see `sorter --help`)", add_help=False)
    templates = commands.add_parser("templates", help="copy the params profiles and notebooks into DIR",
                                    description="Copy every params profile (DIR/params) and notebook (DIR/notebooks)"
                                                " of the package into DIR, to edit and run from there.")
    templates.add_argument("dir", metavar="DIR")
    templates.add_argument("--force", action="store_true", help="overwrite files in DIR that differ")
    _query_parser(commands)
    return parser


def _run_parser(commands) -> None:
    run = commands.add_parser("run", help="run or resume a study (every check of `check` first)",
                              description="Run or resume every (method, seed) slice of a study; results.csv,"
                                          " params.json, provenance.json and slices/ land in --out. Where --out holds"
                                          " a study committed to git, the run is a reproduction: a line says what it"
                                          " will compute; on a CPU it runs on the thread count the committed rows were"
                                          " computed with unless OMP_NUM_THREADS sets one (a line says which); its last"
                                          " line is the verdict against the committed study (docs/reproducibility.md).")
    run.add_argument("params", help="params YAML (params/<experiment>-<profile>.yaml)")
    run.add_argument("--device", default="auto", help="cpu | cuda | cuda:N | auto (default)")
    run.add_argument("--out", help="output folder (default outputs/<study>)")
    run.add_argument("--jobs", type=int, default=1, help="independent processes, each owning some (method, seed) slices;"
                                                          " with --device cuda spread over the visible GPUs")
    run.add_argument("--executor", choices=("local", "slurm"), default="local",
                     help="local: here (default); slurm: one Slurm array task per unfinished slice, settings from the"
                          " params' cluster: section and --set cluster.KEY=VALUE")
    run.add_argument("--wait", action="store_true",
                     help="with --executor slurm: wait for the tasks, a line per change, then merge and report failures")
    run.add_argument("--only", type=_slice, nargs="+", metavar="METHOD:SEED", help="run just these slices")
    run.add_argument("--set", type=_override, action="append", default=[], metavar="KEY=VALUE",
                     help="override a params key (value read as YAML), e.g. --set data_root=/data")
    run.add_argument("--no-progress", action="store_true",
                     help="no per-epoch progress bars (the line per finished cycle on stderr stays)")
    run.add_argument("--no-verdict", action="store_true",
                     help="where --out holds a study committed to git: no line at the start saying what will be computed,"
                          " no choice of its thread count and no verdict against the committed study at the end (the"
                          " --jobs workers: the run that starts them does those)")


def _verify_parser(commands) -> None:
    verify = commands.add_parser("verify", help="rerun one finished slice from the study's params.json and compare",
                                 description="Rerun METHOD:SEED of the study in DIR in a temporary folder and compare"
                                             " every stored row (timings aside) and selection with the rerun's, to"
                                             " the last digit. It says first whether this machine's numerics"
                                             " fingerprint (processor, instruction sets, torch build, device,"
                                             " precision, threads) matches the slice's. Exit status: 0 reproduced"
                                             " exactly; 1 differs on the slice's own fingerprint (the code or its"
                                             " inputs changed); 3 differs where the fingerprint differs too (expected:"
                                             " the verdict names what differs); 2 a wrong study or slice.")
    verify.add_argument("out", metavar="DIR")
    verify.add_argument("slice", type=_slice, metavar="METHOD:SEED")
    verify.add_argument("--device", default="cpu", help="cpu (default) | cuda | auto: the device the slice ran on")


def _compare_parser(commands) -> None:
    compare = commands.add_parser("compare", help="the study in DIR against its copy committed to git, the verdict last",
                                  description="Compare the rows of the study in DIR (timings aside) with the ones committed"
                                              " to git (HEAD), per method and metric (final cycle and AUBC), and end"
                                              " with the verdict: identical to the last digit, or how far and why (the"
                                              " numerics fingerprints). What `run` prints at the end of a reproduction;"
                                              " `make <experiment>` prints it after the notebook. Computes nothing.")
    compare.add_argument("out", metavar="DIR")


def _readme_parser(commands) -> None:
    readme = commands.add_parser("readme-results", help="rewrite README.md's claims and loss-ranking tables,"
                                                        " docs/claims.md and docs/results.md from the studies under outputs/",
                                 description="Regenerate the blocks between the claims and ranking markers of README.md,"
                                             " docs/claims.md and docs/results.md from the studies under --outputs;"
                                             " --check only reports a difference.")
    readme.add_argument("--outputs", default="outputs")
    readme.add_argument("--check", action="store_true", help="exit 1 if the README differs, writing nothing")


def _query_parser(commands) -> None:
    query = commands.add_parser("query", help="train on your labeled images, write the next ones to label",
                                description="Train on the images labels.csv labels (one study cycle), let the"
                                            " strategy score the other images under --images, and write the"
                                            " --budget of them to label next to --out (path,score,rank). Defaults"
                                            " suit small images on a CPU (l2ral_lib/labeling.py DEFAULTS).")
    query.add_argument("--images", required=True, metavar="DIR", help="the pool: every image under DIR")
    query.add_argument("--labels", required=True, metavar="CSV", help="path,label rows; paths relative to DIR")
    query.add_argument("--budget", required=True, type=int, metavar="K", help="how many images to pick")
    query.add_argument("--strategy", required=True, metavar="NAME", help="a strategy of `list` (l2r, entropy, ...)")
    query.add_argument("--out", required=True, metavar="CSV", help="where the picks go (path,score,rank; rank 1 first)")
    query.add_argument("--classes", type=lambda text: [c.strip() for c in text.split(",")], metavar="A,B,...",
                       help="every label there is (default: those labels.csv holds); any other label is refused")
    query.add_argument("--subset", type=int, metavar="N", help="score a random N of the unlabeled images (default: all)")
    query.add_argument("--seed", type=int, default=0, help="the same inputs and seed give the same picks (default 0)")
    query.add_argument("--params", metavar="FILE", help="a params YAML whose keys replace the defaults")
    query.add_argument("--set", type=_override, action="append", default=[], metavar="KEY=VALUE",
                       help="override a params key (value read as YAML), e.g. --set epochs=20")
    query.add_argument("--device", default="auto", help="cpu | cuda | cuda:N | auto (default)")
    query.add_argument("--no-progress", action="store_true", help="no per-epoch progress bar")


def _run(args) -> int:
    from .executors import require  # noqa: PLC0415

    require(args.executor)  # before the params are read: Slurm missing is said at once
    from .checks import load_params  # noqa: PLC0415
    from .running import run, study_out  # noqa: PLC0415

    params = load_params(args.params, dict(args.set))
    status, _ = run(params, args.params, study_out(params, args.out), args.device, args.jobs, args.only, args.set,
                    args.executor, args.wait, progress=not args.no_progress, verdict=not args.no_verdict)
    return status


def _check(args) -> int:
    from .checks import check_study, load_params  # noqa: PLC0415
    from .devices import device_name  # noqa: PLC0415
    from .projection import describe_projection, newest_figures  # noqa: PLC0415
    from .study_folder import study_slices  # noqa: PLC0415

    params = load_params(args.params, dict(args.set))
    data = check_study(params)
    slices, product = len(study_slices(params)), len(params.strategies) * len(params.seeds)
    plan = f", {slices} of the {product} slices as strategy_seeds plans them" if slices < product else ""
    print(f"{args.params}: ok ({len(params.strategies)} strategies x {len(params.seeds)} seeds x"
          f" {params.n_cycles} cycles{plan}; {data.name}: pool {data.n_pool}, test {data.n_test})")
    name = device_name(args.device)
    found = newest_figures(project_root() / "outputs" / "gpu-check", name) or (None, None)
    print("\n".join(describe_projection(params, *found, name, data.n_pool)))
    return 0


def _merge(args) -> int:
    from .outputs import merge_results  # noqa: PLC0415

    print(merge_results(Path(args.out)).groupby(["method", "metric"]).size().to_string())
    return 0


def _verify(args) -> int:
    from .devices import reproducibility_note  # noqa: PLC0415
    from .outputs import StudyFolder  # noqa: PLC0415
    from .verify import verify_slice  # noqa: PLC0415

    folder = StudyFolder(args.out)
    deterministic = folder.has_study() and folder.params().get("deterministic", False)
    (method, seed) = args.slice
    notes = [reproducibility_note(folder.slice(method, seed).provenance_file, deterministic, args.device)]

    def say(line: str) -> None:  # the fingerprint's line first, then which reproducibility applies
        print(f"{args.out} {method}:{seed}: {line}", *notes, sep="\n", flush=True)
        notes.clear()

    verdict = verify_slice(args.out, method, seed, device=args.device, say=say)
    print("\n".join([*verdict.differences, f"{args.out} {method}:{seed}: {verdict.conclusion()}"]))
    return verdict.status


def _compare(args) -> int:
    from .reproduction import verdict_lines  # noqa: PLC0415

    print("\n".join(verdict_lines(args.out)))
    return 0


def _readme_results(args) -> int:
    if not is_checkout():
        raise ParamsError("readme-results", "rewrites the project's README.md and docs/*.md: run it in a"
                                            " checkout of the project, not an installed copy")
    from .report.readme import renew_pages  # noqa: PLC0415

    status, line = renew_pages(PROJECT_ROOT, args.outputs, args.check)
    print(line)
    return status


def _status(args) -> int:
    from .checks import from_dict  # noqa: PLC0415
    from .executors.slurm import reachable_live_tasks, slice_states  # noqa: PLC0415
    from .study_folder import StudyLayout  # noqa: PLC0415

    layout = StudyLayout(args.out)
    if not layout.has_study():
        raise ParamsError("status", f"no study in {args.out} (no {layout.params_file.name})")
    print(slice_states(from_dict(layout.params()), layout.path, reachable_live_tasks()).to_string(index=False))
    return 0


def _templates(args) -> int:
    from .templates import copy_templates  # noqa: PLC0415

    copied = copy_templates(args.dir, args.force)
    print(f"{args.dir}: {copied['params']} params profiles in params/, {copied['notebooks']} notebooks in"
          f" notebooks/; next: cd {args.dir} && {_prog()} check params/cifar10-smoke.yaml")
    return 0


def _query(args) -> int:
    from .labeling import query  # noqa: PLC0415

    print(query(args.images, args.labels, args.budget, args.strategy, args.out, seed=args.seed, subset=args.subset,
                params_file=args.params, overrides=dict(args.set), device=args.device, progress=not args.no_progress,
                classes=args.classes))
    return 0


def _list(args) -> int:
    """The registries (and which names installed plugins added), then the params keys by section."""
    from .config import describe_keys  # noqa: PLC0415
    from .data import list_datasets  # noqa: PLC0415
    from .models import list_models  # noqa: PLC0415
    from .registry import LOADED  # noqa: PLC0415
    from .strategies import list_strategies  # noqa: PLC0415

    lines = [f"strategies: {', '.join(list_strategies())}", f"datasets:   {', '.join(list_datasets())}",
             f"models:     {', '.join(list_models())}"]
    plugins = [f"{name} ({group}, {source})" for group, found in sorted(LOADED.items()) for name, source in found.items()]
    lines += [f"plugins:    {', '.join(plugins)}"] if plugins else []
    lines += ["", "params keys (key: type = default  meaning):"]
    section = None
    for key in describe_keys():
        if key["section"] != section:
            section = key["section"]
            lines.append(f"  # {section}")
        lines.append(f"  {key['key']}: {key['type']} = {json.dumps(key['default'])}  {key['meaning']}")
    print("\n".join(lines))
    return 0


# every command but `sorter`, which parses its own arguments (`sorter --help` is the sorter's)
COMMANDS = {"run": _run, "check": _check, "merge": _merge, "verify": _verify, "compare": _compare,
            "readme-results": _readme_results, "status": _status, "list": _list, "templates": _templates,
            "query": _query}


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["sorter"]:
        from .sorter.train import main as sorter_main  # noqa: PLC0415

        return sorter_main(argv[1:])
    args = _parser().parse_args(argv)
    try:
        return COMMANDS[args.command](args)
    except (ParamsError, DataError, PluginError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
