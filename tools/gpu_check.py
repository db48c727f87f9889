"""`make gpu-check`: one prepared command for a short GPU window (at most 8 minutes on one H100/H200),
ending in one JSON + markdown file under outputs/gpu-check/ to commit.

    python tools/gpu_check.py [--device cuda] [--out outputs/gpu-check] [--steps 30] [--workers 1,2,4,6]
                              [--then-sorter 64 --window-minutes 15]
    python tools/gpu_check.py --dry-run            # CPU, tiny sizes, seconds (tests/tools/test_gpu_check.py)

What it measures, in this order, each written to the file as soon as it is known:
1. `pytest -m gpu` (tests/e2e/test_gpu.py): passed, failed, skipped, and the failures' names;
2. ms per training step of every paper method (params/cifar10-paper.yaml and the CIFAR-10 ablation and
   modern profiles: paper width 64, batch 64, the profile's precision), study's train_cycle on device data;
   and of the --captured methods (default random, l2r: the plain step and the sorter's) under
   `compile: reduce-overhead`, the step in CUDA graphs (l2ral_lib/compilation.py; not in a dry run:
   inductor's CPU compile takes minutes), with each step's MFU;
3. the length-64 sorter's forward+backward with and without cuDNN (and autograd's graph);
4. ms per VAAL iteration at the official width 128 (VAE steps on a labeled and an unlabeled batch + the
   discriminator's);
5. aggregate training images/s of 1, 2, 4 and 6 worker processes on the one GPU (random's step);
6. the fraction of the device's dense bf16 peak reached (MFU): images/s x 3.33 GFLOP, the training
   FLOPs of one 32x32 image through the CIFAR ResNet-18 (x (width/64)^2 at another width);
7. the projected wall time of every paper study it can project (l2ral_lib/projection.py), JOBS=1 and
   at the best worker count, and per seed with the captured steps (a method not captured counts as the
   captured step of its kind: l2r's for the L2R-AL variants, random's for the rest, LL4AL's included,
   an underestimate of its LossNet; VAAL's fit at its eager ms per iteration).

On this project's device machine (no package registry; its own python3 3.12 with torch 2.11; a .venv
of 6 GB cannot travel in its 64 MiB): here, `mkdir -p carry && cp ../shared/data/cifar10-jpeg.tar.xz carry/`
and `make gpu-wheels` (diffsort, the one import it lacks, into .whl/); both folders are ignored by git.
Pass `carry: ["carry", ".whl"]` to the device tool and run `make gpu-check PY=python3
GPU_CHECK_OUT=$OUT/gpu-check` there (without make: `python3 -m pip install -q --no-index --no-deps --target
.whl/site .whl/*.whl && PYTHONPATH=.whl/site:. python3 tools/gpu_check.py --out $OUT/gpu-check`). The
script extracts carry/cifar10-jpeg.tar.xz into data/cifar10 when data/cifar10 is missing (the measurements
themselves use synthetic images; the data is for what follows them). Commit the files that come back under
outputs/gpu-check/.

--then-sorter N: when the checks finish with time left in --window-minutes (minus a 2-minute margin),
continue training the SoDeep sorter of length N on the GPU toward the recipe's 400 epochs, resumable
(`python -m l2ral_lib sorter --kind sodeep --seq-len N --resume --device cuda --max-minutes M`); its
weights, record and checkpoint (sodeep-N.pt/.json/.ckpt, 2.1 MB) are copied beside the report: commit them
into l2ral_lib/sorter_weights/, and the next window resumes from them.
--then-study METHODS: then seed 0 of the CIFAR-10 paper study for those methods in what is left (half of it
when both are given), stopped at the window's end; cifar10-paper-seed0.tar beside the report holds the study
folder without its state.pt files: a paper slice's state is ~45 MB, over the 16 MiB a returned file may be
and over what a later window's working tree can carry (64 MiB, of which the repository takes ~40 and the data
~19), so only slices finished inside one window carry over; an unfinished one's rows come back and a later
run computes it anew.
"""
from __future__ import annotations

import argparse
import dataclasses
import importlib.util
import json
import re
import shutil
import subprocess
import sys
import tarfile
import time
from datetime import datetime, timezone
from pathlib import Path

import torch

from l2ral_lib.checks import load_params
from l2ral_lib.devices import device_name
from l2ral_lib.precision import configure_backends, describe
from l2ral_lib.projection import project
from l2ral_lib.sorter.weights import weights_path
from l2ral_lib.strategies import QueryContext, get_strategy
from l2ral_lib.tasks import Classification

ROOT = Path(__file__).resolve().parents[1]


def load_script(path: Path):
    """A script of this checkout as a module, loaded from its file (benchmarks/ is no package)."""
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = sys.modules[path.stem] = importlib.util.module_from_spec(spec)  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


bench = load_script(ROOT / "benchmarks" / "bench.py")  # the timed training loop and the sorter's benchmark

# dense bf16 peak FLOP/s by device name (a substring of torch.cuda.get_device_name): NVIDIA's data sheets
BF16_PEAK = {"H200": 989e12, "H100": 989e12, "A100": 312e12}
TRAIN_FLOPS_PER_IMAGE = 3.33e9  # CIFAR ResNet-18 (width 64) at 32x32: forward + backward
PROFILES = ("cifar10-paper", "cifar10-ablations-paper", "cifar10-modern-paper")  # the methods timed
PAPER_STUDIES = ("cifar10-paper", "cifar10-ablations-paper", "cifar10-modern-paper", "celeba-paper",
                 "celeba-modern-paper", "mpii-paper", "shanghaitech-paper")


def peak_flops(name: str) -> float | None:
    return next((peak for key, peak in BF16_PEAK.items() if key in name), None)


def extract_data(archive: Path, root: Path) -> str:
    target = root / "cifar10"
    if target.exists():
        return f"{target} present"
    if not archive.is_file():
        return f"no {archive}: data not extracted (the measurements need none)"
    target.mkdir(parents=True)
    with tarfile.open(archive) as tar:
        tar.extractall(target, filter="data")
    return f"extracted {archive} into {target}"


GPU_TESTS = "tests/e2e/test_gpu.py"


def run_gpu_tests(timeout: int) -> dict:
    """`pytest -m gpu` on the GPU tests: counts from its summary line, the failures' names; a run that
    collected nothing (a moved file) counts as one failure, not as a clean run."""
    command = [sys.executable, "-m", "pytest", "-m", "gpu", "-q", "-p", "no:cacheprovider", "-rf", GPU_TESTS]
    try:
        done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"passed": 0, "failed": 0, "skipped": 0, "timed_out": True, "failures": []}
    counts = {kind: int(n) for n, kind in re.findall(r"(\d+) (passed|failed|skipped|error)", done.stdout)}
    failures = re.findall(r"^FAILED (\S+)", done.stdout, re.M)
    if not counts:
        failures.append(f"pytest exited {done.returncode} running no test: {(done.stdout + done.stderr).strip()[-300:]}")
    return {"passed": counts.get("passed", 0), "failed": counts.get("failed", 0) + counts.get("error", 0) + (not counts),
            "skipped": counts.get("skipped", 0), "timed_out": False, "failures": failures}


def step_ms(method: str, params, device, steps: int) -> float:
    """ms per training step of `method`: one untimed epoch (warm), then the best of two of `steps` batches."""
    n = steps * params.batch_size
    data = bench.fake_cifar(n, device, torch.Generator().manual_seed(0))
    loop = bench.study_loop(method, params, data, n, device)
    loop()
    return 1000 * min(bench.timed(loop, device) for _ in range(2)) / steps


def step_mfu(ms: float, params, peak: float | None) -> float | None:
    """Fraction of the bf16 peak one training step reaches: batch x the image's training FLOPs per ms."""
    if peak is None:
        return None
    return params.batch_size * TRAIN_FLOPS_PER_IMAGE * (params.model_width / 64) ** 2 / (ms / 1000) / peak


def vaal_ms(params, device, iterations: int) -> float:
    data = bench.fake_cifar(2048, device, torch.Generator().manual_seed(0))
    labeled, unlabeled = torch.arange(512, device=device), torch.arange(512, 2048, device=device)
    run = dataclasses.replace(params, vaal_iterations=iterations)
    ctx = QueryContext(model=None, data=data, task=Classification(), params=run, labeled=labeled, subset=unlabeled)
    strategy = get_strategy("vaal")(run, Classification(), None, device)
    strategy.fit(ctx, unlabeled)
    return 1000 * min(bench.timed(lambda: strategy.fit(ctx, unlabeled), device) for _ in range(2)) / iterations


def worker(args) -> None:
    """One of several processes training random's step at once: images/s over [start_at, start_at + seconds]."""
    device = torch.device(args.device)
    params = study_params(args)
    configure_backends(params, device)
    n = 4 * params.batch_size
    data = bench.fake_cifar(n, device, torch.Generator().manual_seed(0))
    loop = bench.study_loop("random", params, data, n, device)
    loop()
    bench.sync(device)
    while time.time() < args.start_at:
        time.sleep(0.01)
    images, start = 0, time.perf_counter()
    while time.perf_counter() - start < args.seconds or images == 0:
        loop()
        images += n
    bench.sync(device)
    Path(args.result).write_text(json.dumps({"images_per_s": images / (time.perf_counter() - start)}))


def aggregate_images_per_s(args, count: int, folder: Path) -> float:
    start_at = time.time() + args.worker_warmup
    results = [folder / f"worker-{count}-{i}.json" for i in range(count)]
    command = [sys.executable, __file__, "--worker", "--device", args.device, "--seconds", str(args.worker_seconds),
               "--start-at", str(start_at)] + (["--dry-run"] if args.dry_run else [])
    processes = [subprocess.Popen(command + ["--result", str(result)], cwd=ROOT) for result in results]
    for process in processes:
        process.wait(timeout=args.worker_warmup + args.worker_seconds + 300)
    return sum(json.loads(result.read_text())["images_per_s"] for result in results)


def study_params(args, stem="cifar10-paper"):
    overrides = {"model_width": 4, "pretrained": None, "vaal_width": 8} if args.dry_run else {}
    return load_params(ROOT / "params" / f"{stem}.yaml", overrides)


def markdown(report: dict) -> str:
    lines = [f"# gpu-check: {report['device_name']} ({report['finished'] or 'unfinished'})", "",
             f"torch {report['torch']} (CUDA {report['cuda']}), {report['precision']}; width {report['width']},"
             f" batch {report['batch']}{' (DRY RUN: tiny sizes on the CPU)' if report['dry_run'] else ''}", ""]
    tests = report.get("gpu_tests")
    if tests:
        lines += [f"pytest -m gpu: {tests['passed']} passed, {tests['failed']} failed, {tests['skipped']} skipped"
                  + (" (timed out)" if tests["timed_out"] else "") + "".join(f"\n- failed: {f}" for f in tests["failures"]), ""]
    if report.get("step_ms"):
        captured, mfu = report.get("captured_step_ms", {}), report.get("step_mfu", {})

        def cell(value, fmt):
            return "–" if value is None else format(value, fmt)
        lines += ["| method | ms per training step | MFU | captured (compile: reduce-overhead), ms | captured MFU |",
                  "|---|---|---|---|---|"]
        lines += [f"| {m} | {v:.2f} | {cell(mfu.get(m), '.1%')} | {cell(captured.get(m), '.2f')}"
                  f" | {cell(mfu.get(m + ' captured'), '.1%')} |" for m, v in report["step_ms"].items()]
        lines += ["" if captured else "(captured steps not measured" + (" in a dry run)" if report["dry_run"] else ")"), ""]
    if report.get("sorter"):
        s = report["sorter"]
        lines += [f"sorter (64) forward+backward: {s['sorter_fwd_bwd_ms']:.2f} ms with cuDNN, {s['no_cudnn_fwd_bwd_ms']:.2f}"
                  f" ms without, {s['autograd_fwd_bwd_ms']:.2f} ms by autograd's graph", ""]
    if report.get("vaal_ms_per_iteration") is not None:
        lines += [f"VAAL: {report['vaal_ms_per_iteration']:.2f} ms per iteration (width {report['vaal_width']})", ""]
    if report.get("workers"):
        lines += ["| worker processes | images/s in total | MFU (bf16 peak) |", "|---|---|---|"]
        for w in report["workers"]:
            mfu = "n/a" if w["mfu"] is None else f"{100 * w['mfu']:.1f} %"
            lines.append(f"| {w['processes']} | {w['images_per_s']:.0f} | {mfu} |")
        lines.append("")
    if report.get("projected_hours"):
        lines += ["| paper study | hours per seed, JOBS=1 | hours, all seeds, best worker count | hours per seed,"
                  " captured steps |", "|---|---|---|---|"]
        for study, p in report["projected_hours"].items():
            cells = ["n/a" if p.get(key) is None else f"{p[key]:.2f}"
                     for key in ("per_seed", "all_seeds_best_workers", "per_seed_captured")]
            lines.append(f"| {study} | {cells[0]} | {cells[1]} | {cells[2]} |")
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--dry-run", action="store_true", help="CPU, width 4, tiny counts: the file's structure in seconds")
    parser.add_argument("--out", default="outputs/gpu-check")
    parser.add_argument("--steps", type=int, default=30, help="training steps timed per method")
    parser.add_argument("--captured", default="random,l2r",
                        help="methods also timed under compile: reduce-overhead (CUDA graphs); '' for none")
    parser.add_argument("--vaal-iterations", type=int, default=20)
    parser.add_argument("--workers", default="1,2,4,6", help="worker-process counts of the aggregate images/s")
    parser.add_argument("--worker-seconds", type=float, default=15.0)
    parser.add_argument("--worker-warmup", type=float, default=45.0, help="seconds the workers get to start and warm up")
    parser.add_argument("--tests-timeout", type=int, default=240, help="seconds for `pytest -m gpu`")
    parser.add_argument("--archive", default="carry/cifar10-jpeg.tar.xz")
    parser.add_argument("--then-sorter", type=int, metavar="SEQ_LEN", help="continue this SoDeep sorter's training after")
    parser.add_argument("--then-study", metavar="METHODS",
                        help="then seed 0 of the CIFAR-10 paper study for these methods (comma-separated) in the time"
                             " left; it comes back as cifar10-paper-seed0.tar (pack_study: what is kept)")
    parser.add_argument("--window-minutes", type=float, default=15.0)
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--seconds", type=float, help=argparse.SUPPRESS)
    parser.add_argument("--start-at", type=float, help=argparse.SUPPRESS)
    parser.add_argument("--result", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.dry_run:
        args.device = "cpu"
        if args.worker:
            return worker(args) or 0
        args.steps, args.vaal_iterations, args.worker_seconds, args.worker_warmup = 2, 2, 0.5, 3.0
        args.workers = "1,2" if args.workers == "1,2,4,6" else args.workers
        args.captured = ""  # inductor's CPU compile: minutes per method
    if args.worker:
        return worker(args) or 0
    began = time.time()
    device = torch.device(args.device)
    params = study_params(args)
    configure_backends(params, device)
    name = device_name(args.device)
    stamp = datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S")
    kind = "dry-run" if args.dry_run else re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    target = out / f"{kind}-{stamp}"
    report = {"device_name": name, "dry_run": args.dry_run, "torch": torch.__version__, "cuda": torch.version.cuda,
              "precision": describe(params, device), "width": params.model_width, "batch": params.batch_size,
              "started": stamp, "finished": None, "data": extract_data(ROOT / args.archive, ROOT / "data")}

    last = [time.time()]
    report["part_seconds"] = {}

    def save(part=None):
        if part:  # seconds each part took: what fits the window
            report["part_seconds"][part] = report["part_seconds"].get(part, 0.0) + time.time() - last[0]
            last[0] = time.time()
        target.with_suffix(".json").write_text(json.dumps(report, indent=2) + "\n")
        target.with_suffix(".md").write_text(markdown(report))
    save()
    report["gpu_tests"] = run_gpu_tests(args.tests_timeout)
    save("gpu_tests")
    report["step_ms"] = {}
    for stem in PROFILES:
        profile = study_params(args, stem)
        for method in profile.strategies:
            if method not in report["step_ms"]:
                report["step_ms"][method] = step_ms(method, profile, device, args.steps)
                save("step_ms")
    peak = peak_flops(name)
    report["step_mfu"] = {m: step_mfu(ms, params, peak) for m, ms in report["step_ms"].items()}
    report["captured_step_ms"] = {}
    for method in filter(None, args.captured.split(",")):
        captured = dataclasses.replace(params, compile="reduce-overhead")
        report["captured_step_ms"][method] = step_ms(method, captured, device, args.steps)
        report["step_mfu"][f"{method} captured"] = step_mfu(report["captured_step_ms"][method], params, peak)
        save("captured_step_ms")
    report["sorter"] = bench.bench_sorter(device, rounds=2, repeats=2 if args.dry_run else 50).iloc[0].to_dict()
    save("sorter")
    report["vaal_width"] = params.vaal_width
    report["vaal_ms_per_iteration"] = vaal_ms(params, device, args.vaal_iterations)
    save("vaal")
    flops = TRAIN_FLOPS_PER_IMAGE * (params.model_width / 64) ** 2
    report["peak_bf16_flops"], report["workers"] = peak, []
    for count in map(int, args.workers.split(",")):
        rate = aggregate_images_per_s(args, count, out)
        report["workers"].append({"processes": count, "images_per_s": rate,
                                  "mfu": None if peak is None else rate * flops / peak})
        save("workers")
    for leftover in out.glob("worker-*.json"):
        leftover.unlink()
    speedup = max(w["images_per_s"] for w in report["workers"]) / report["workers"][0]["images_per_s"]
    figures = {"step_ms": report["step_ms"], "width": params.model_width, "batch": params.batch_size,
               "vaal_ms_per_iteration": report["vaal_ms_per_iteration"], "vaal_width": params.vaal_width}
    report["projected_hours"] = {}
    for stem in PAPER_STUDIES:
        study = study_params(args, stem)
        methods = project(study, figures)
        seconds = [m["seconds"] for m in methods.values()]
        per_seed = None if None in seconds else sum(seconds) / 3600
        captured_s = [m["seconds"] for m in project(study, {**figures, "step_ms": report["captured_step_ms"]}).values()] \
            if report["captured_step_ms"] else [None]
        report["projected_hours"][stem] = {
            "per_seed": per_seed, "per_seed_captured": None if None in captured_s else sum(captured_s) / 3600, "methods": {m: (None if p["seconds"] is None else p["seconds"] / 3600)
                                              for m, p in methods.items()},
            "all_seeds_best_workers": None if per_seed is None else
            sum(p["seconds"] * len(study.seeds_of(m)) for m, p in methods.items()) / 3600 / speedup}
    report["finished"] = datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S")
    report["check_seconds"] = time.time() - began
    save()
    print(target.with_suffix(".md").read_text())
    def minutes_left():
        return args.window_minutes - 2 - (time.time() - began) / 60
    status = 0
    if args.then_sorter and not args.dry_run and minutes_left() > 1:
        share = minutes_left() / (2 if args.then_study else 1)
        command = [sys.executable, "-m", "l2ral_lib", "sorter", "--kind", "sodeep", "--seq-len", str(args.then_sorter),
                   "--resume", "--device", args.device, "--max-minutes", f"{share:.1f}"]
        print("continuing:", " ".join(command), flush=True)
        status = subprocess.run(command, cwd=ROOT).returncode
        weights = weights_path(args.then_sorter, "sodeep")
        for path in (weights, weights.with_suffix(".json"), weights.with_suffix(".ckpt")):
            if path.is_file():  # back with the report: commit them into l2ral_lib/sorter_weights/
                shutil.copy2(path, out / path.name)
    if args.then_study and not args.dry_run and minutes_left() > 1:
        folder = ROOT / "outputs" / "cifar10-paper"
        command = [sys.executable, "-m", "l2ral_lib", "run", "params/cifar10-paper.yaml", "--device", args.device,
                   "--out", str(folder), "--no-progress", "--only", *[f"{m}:0" for m in args.then_study.split(",")]]
        print("continuing:", " ".join(command), flush=True)
        try:
            status = subprocess.run(command, cwd=ROOT, timeout=60 * minutes_left()).returncode or status
        except subprocess.TimeoutExpired:
            print("the window's time is up: finished cycles are saved, the cycle under way is lost", flush=True)
        pack_study(folder, out / "cifar10-paper-seed0.tar")
    return status


def pack_study(folder: Path, archive: Path) -> None:
    """The study folder as one file to bring back, without the slices' state.pt (a paper slice's is ~45 MB:
    over what one file may be, and over what the next window's working tree could carry back) or locks:
    finished slices come back whole; an unfinished slice's rows come back, and a later run computes it anew."""
    with tarfile.open(archive, "w") as tar:
        for path in sorted(folder.rglob("*")):
            if path.is_file() and path.name not in ("state.pt", ".lock"):
                tar.add(path, arcname=str(path.relative_to(folder.parent)))


if __name__ == "__main__":
    sys.exit(main())
