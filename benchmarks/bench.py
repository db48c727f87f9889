"""Benchmarks of the study's hot paths, each against a baseline measured in the same run.

    python benchmarks/bench.py [--device cpu|cuda] [--width 16] [--steps 30] [--query-n 10000] [--picks 1000]
                               [--vaal-width 128] [--vae-iterations 10] [--smoke-dirs 'outputs/*-smoke'] [--out outputs/bench]
                               [--parts train_step,precision,vae,query,sorter,ops,graphs,phases]
                               [--precision-models cifar10-smoke,celeba-smoke,paper] [--precision-steps N]
                               [--query-methods random,entropy,...]

Prints one table per part and writes outputs/bench/<name>.csv as soon as the part finishes:
- train_step: the study's training step (train_cycle: device-resident data, augmentation, target +
  the L2R head and sorter) vs a bare PyTorch loop over the same model, batch, device and precision;
- precision: float32 vs bf16 autocast vs bf16 + channels_last, for the smoke and paper model widths,
  the study's train_cycle and the bare loop each;
- vae: VAAL's fit per iteration at the smoke width in the three precision settings;
- query: scoring + selection per strategy on a 10k subset; core-set's k-center with 10k pool x 10k
  labeled 512-d, and BADGE's k-means++ seeding with 10k pool x 512-d features x 10 classes (5120-d);
- sorter: forward+backward of the length-64 sorter per batch (cuDNN on and off, and autograd's graph), and
  its share of an L2R training step;
- ops: host-side aten ops per step (torch.profiler, CPU) before and after cuDNN's fused GRU forward;
- graphs: host-side ops per step eager and under `compile: reduce-overhead` (the compiled steps' forward
  and backward each one CUDA-graph replay), counted on the CPU;
- phases_<study>: seconds per phase and method of each finished smoke study found under outputs/.
"""
from __future__ import annotations

import argparse
import contextlib
import copy
import dataclasses
import functools
import glob
import time
from pathlib import Path

import pandas as pd
import torch
import torch.nn.functional as F

from l2ral_lib.checks import load_params
from l2ral_lib.data.base import ImageClassificationData
from l2ral_lib.paths import PROJECT_ROOT
from l2ral_lib.precision import cpu_bf16_flag, describe, uses_bf16, uses_channels_last
from l2ral_lib.models.resnet import SmallImageResNet
from l2ral_lib.report.tables import timing_table
from l2ral_lib.sorter import load_sorter
from l2ral_lib.strategies import QueryContext, get_strategy
from l2ral_lib.strategies.badge import gradient_factor, kmeanspp_seeding
from l2ral_lib.strategies.coreset import kcenter_greedy
from l2ral_lib.tasks import Classification
from l2ral_lib.training import train_cycle


def sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize()


def timed(fn, device, repeats=1):
    """Best of `repeats` wall times of fn() (seconds)."""
    best = float("inf")
    for _ in range(repeats):
        sync(device)
        start = time.perf_counter()
        fn()
        sync(device)
        best = min(best, time.perf_counter() - start)
    return best


def fake_cifar(n, device, generator, size=32):
    images = torch.randint(0, 256, (n, 3, size, size), dtype=torch.uint8, generator=generator)
    labels = torch.randint(0, 10, (n,), generator=generator)
    return ImageClassificationData("bench", images, labels, images[:1000], labels[:1000], 10, device)


def bare_loop(model, images, labels, batch_size, bf16, channels_last):
    """Plain PyTorch training over uint8 `images` (no augmentation, no head) in the given precision."""
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, weight_decay=5e-4)
    layout = torch.channels_last if channels_last else torch.contiguous_format
    model.to(memory_format=layout)
    x_all = images.float().div(255).contiguous(memory_format=layout)

    def run():
        model.train()
        for start in range(0, len(images), batch_size):
            with torch.autocast(x_all.device.type, dtype=torch.bfloat16, enabled=bf16):
                logits = model(x_all[start:start + batch_size]).output
            loss = F.cross_entropy(logits.float(), labels[start:start + batch_size])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
    return run


def study_loop(method, params, data, n, device):
    """One epoch of the study's train_cycle (device-resident data, augmentation, the strategy's head)."""
    torch.manual_seed(0)
    model = SmallImageResNet(width=params.model_width).to(device)
    if uses_channels_last(params, device):
        model = model.to(memory_format=torch.channels_last)
    strategy = get_strategy(method)(params, Classification(), model, device)
    labeled = torch.arange(n, device=device)
    one_epoch = dataclasses.replace(params, epochs=1, lr_milestones=[1])
    return lambda: train_cycle(model, strategy, data, Classification(), labeled, one_epoch, "bench", progress=False)


def best_images_per_s(loops, n, device, rounds):
    """Every loop once untimed (allocator, kernels, caches warm), then `rounds` interleaved timed rounds,
    each loop keeping its best: no ratio depends on which loop ran first."""
    for fn in loops.values():
        fn()
    best = {name: float("inf") for name in loops}
    for _ in range(rounds):
        for name, fn in loops.items():
            best[name] = min(best[name], timed(fn, device))
    return {name: n / seconds for name, seconds in best.items()}


def bench_train_step(params, device, steps, rounds=3):
    """Images/s of train_cycle (one epoch of `steps` batches) vs a bare loop doing the same work."""
    n = steps * params.batch_size
    data = fake_cifar(n, device, torch.Generator().manual_seed(0))
    loops = {f"study train_cycle ({method})": study_loop(method, params, data, n, device) for method in ("random", "l2r")}
    bare_name = "bare PyTorch loop (no augmentation, no head)"
    torch.manual_seed(0)
    loops[bare_name] = bare_loop(SmallImageResNet(width=params.model_width).to(device), data.train_images,
                                 data.train_labels, params.batch_size, uses_bf16(params, device),
                                 uses_channels_last(params, device))
    speed = best_images_per_s(loops, n, device, rounds)
    table = pd.DataFrame([{"loop": name, "images_per_s": value} for name, value in speed.items()])
    table["ratio_to_bare"] = table.images_per_s / speed[bare_name]
    return table


# name: (width, input size, training batches timed): the smoke profiles' models and the paper's ResNet-18
PRECISION_MODELS = {"cifar10-smoke": (16, 32, 20), "celeba-smoke": (8, 64, 10), "paper": (64, 32, 6)}
PRECISION_SETTINGS = (("float32", False, False), ("bf16", True, False), ("bf16 + channels_last", True, True))


def bench_precision(params, device, models=tuple(PRECISION_MODELS), steps=None, rounds=2):
    """Training images/s of the study's train_cycle (random: no head) and of a bare loop, per model and
    precision setting, with the speed-up over float32 of the same loop and model. A setting the device
    does not run natively (see precision.uses_bf16) is timed as what the study would do: float32."""
    rows = []
    for model_name in models:
        width, size, default_steps = PRECISION_MODELS[model_name]
        n = (steps or default_steps) * params.batch_size
        data = fake_cifar(n, device, torch.Generator().manual_seed(0), size)
        loops = {}
        for setting, amp, channels_last in PRECISION_SETTINGS:
            run = dataclasses.replace(params, model_width=width, amp=amp, channels_last=channels_last)
            loops[(setting, "study train_cycle")] = study_loop("random", run, data, n, device)
            torch.manual_seed(0)
            loops[(setting, "bare loop")] = bare_loop(SmallImageResNet(width=width).to(device), data.train_images,
                                                      data.train_labels, params.batch_size, uses_bf16(run, device),
                                                      uses_channels_last(run, device))
        speed = best_images_per_s(loops, n, device, rounds)
        for (setting, loop), value in speed.items():
            rows.append({"model": f"{model_name} (width {width}, {size}x{size})", "setting": setting, "loop": loop,
                         "images_per_s": value, "speedup_vs_float32": value / speed[("float32", loop)]})
    return pd.DataFrame(rows)


def bench_vae(params, device, width=16, iterations=10, rounds=2):
    """VAAL's fit (the study's VAAL.fit: two VAE steps on a labeled and an unlabeled batch of 128, one
    discriminator step, per iteration) at the CIFAR-10 smoke width, per precision setting: ms per iteration
    and speed-up over float32. The VAE follows the target's precision and layout (strategies/vaal.py)."""
    data = fake_cifar(2048, device, torch.Generator().manual_seed(0))
    labeled, unlabeled = torch.arange(512, device=device), torch.arange(512, 2048, device=device)
    loops = {}
    for setting, amp, channels_last in PRECISION_SETTINGS:
        run = dataclasses.replace(params, vaal_width=width, vaal_iterations=iterations, amp=amp,
                                  channels_last=channels_last)
        ctx = QueryContext(model=None, data=data, task=Classification(), params=run, labeled=labeled, subset=unlabeled)
        strategy = get_strategy("vaal")(run, Classification(), None, device)
        loops[setting] = functools.partial(strategy.fit, ctx, unlabeled)
    speed = best_images_per_s(loops, iterations, device, rounds)  # iterations per second
    return pd.DataFrame([{"setting": setting, "vaal_width": width, "ms_per_iteration": 1000 / value,
                          "speedup_vs_float32": value / speed["float32"]} for setting, value in speed.items()])


QUERY_METHODS = ("random", "entropy", "coreset", "ll4al", "l2r", "vaal", "margin", "least-confidence", "bald", "badge")


def bench_query(params, device, width, n=10000, picks=1000, vaal_width=128, methods=QUERY_METHODS):
    """Seconds of scoring + selection per strategy on an n-item subset (model of `width`), and the two
    selections alone on n-point 512-d features: k-center with n labeled, k-means++ with 10 classes."""
    generator = torch.Generator().manual_seed(1)
    data = fake_cifar(n + picks + 1000, device, generator)
    # BALD samples the dropout layer (p as the modern profiles); in eval mode it costs the others nothing
    model = SmallImageResNet(width=width, dropout=0.5).to(device).eval()
    task, rows = Classification(), []
    labeled, subset = torch.arange(1000, device=device), torch.arange(1000, 1000 + n, device=device)
    quick = dataclasses.replace(params, model_width=width, vaal_iterations=8, vaal_width=vaal_width, dropout=0.5)
    size = f"{n / 1000:g}k"
    for method in methods:
        strategy = get_strategy(method)(quick, task, model, device)
        ctx = QueryContext(model=model, data=data, task=task, params=quick, labeled=labeled, subset=subset)
        total = timed(lambda: strategy.query(ctx, picks), device)
        rows.append({"case": f"{method}: {size} subset, {picks} picks", "seconds": total,
                     **{f"{k}_s": v for k, v in ctx.timings.items()}})
    pool = torch.randn(n, 512, generator=generator).to(device)
    centres = torch.randn(n, 512, generator=generator).to(device)
    rows.append({"case": f"kcenter_greedy: {size} pool, {size} labeled, 512-d, {picks} picks",
                 "seconds": timed(lambda: kcenter_greedy(pool, centres, picks), device)})
    gradients = gradient_factor(torch.randn(n, 10, generator=generator).to(device))
    rows.append({"case": f"kmeanspp_seeding: {size} pool, 512-d x 10 classes (5120-d), {picks} picks",
                 "seconds": timed(lambda: kmeanspp_seeding(gradients, pool, picks, torch.Generator().manual_seed(0)),
                                  device)})
    return pd.DataFrame(rows)


def bench_sorter(device, l2r_step_s: float | None = None, rounds: int = 3, batch: int = 1, repeats: int = 50):
    """Forward+backward of the length-64 sorter per batch of `batch` lists: as the study runs it (cuDNN on
    for the forward, frozen_gru's batched input gradient), the same with cuDNN off for the whole net (as
    the sorter ran before it used cuDNN's fused forward; on a CPU both are the same), and through autograd's per-step graph (a trainable
    eval-mode copy: PyTorch's own GRU backward, cuDNN off as frozen_gru turns it off there, for cuDNN's RNN
    backward refuses eval mode). Best of `rounds` interleaved; and the study path's share of an L2R
    training step (`l2r_step_s`, from the train_step part of the same run) when given."""
    sorter = load_sorter(64, device=device)
    reference = copy.deepcopy(sorter.net).requires_grad_(True)
    predicted = torch.randn(batch, 64, device=device, requires_grad=True)

    def steps(net, cudnn=True):
        def run():
            # flags() resets benchmark, deterministic and TF32 to torch's defaults: used only to turn cuDNN off
            with contextlib.nullcontext() if cudnn else torch.backends.cudnn.flags(enabled=False):
                for _ in range(repeats):
                    net(predicted).sum().backward()
        return run
    loops = {"study": steps(sorter), "study_no_cudnn": steps(sorter, cudnn=False), "autograd": steps(reference)}
    best = {name: float("inf") for name in loops}
    for _ in range(rounds):
        for name, fn in loops.items():
            best[name] = min(best[name], timed(fn, device) / repeats)
    row = {"batch_lists": batch, "sorter_fwd_bwd_ms": 1000 * best["study"],
           "no_cudnn_fwd_bwd_ms": 1000 * best["study_no_cudnn"], "autograd_fwd_bwd_ms": 1000 * best["autograd"],
           "speedup": best["autograd"] / best["study"], "cudnn_speedup": best["study_no_cudnn"] / best["study"]}
    if l2r_step_s is not None:
        row.update(l2r_train_step_ms=1000 * l2r_step_s, sorter_share=best["study"] / l2r_step_s)
    return pd.DataFrame([row])


def op_counts(fn, fused=("aten::gru",)) -> tuple[int, int]:
    """(host-side aten ops fn() dispatches, the same with every `fused` op's subtree counted as one op),
    by torch.profiler on the CPU. Each aten op is at least one kernel launch on CUDA; without cuDNN, CUDA
    runs aten::gru as the same per-step decomposition the CPU profile shows, with cuDNN as one fused call."""
    with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU]) as profile:
        fn()
    events = [event for event in profile.events() if event.name.startswith("aten::")]

    def inside_fused(event):
        parent = event.cpu_parent
        while parent is not None:
            if parent.name in fused:
                return True
            parent = parent.cpu_parent
        return False
    return len(events), len(events) - sum(map(inside_fused, events))


def bench_ops(params, width=16):
    """Host-side ops per step, before (cuDNN off for the whole sorter, as it ran before using cuDNN) and after
    (cuDNN's fused GRU forward; the batched input gradient unchanged): the sorter's no-grad forward, its
    forward+backward in an L2R step, and one whole L2R training step (target, head, sorter) of batch 64.
    Counted on the CPU (see op_counts): what the change removes, not a GPU time."""
    device = torch.device("cpu")
    sorter = load_sorter(64)
    x = torch.randn(1, 64)

    def no_grad_forward():
        with torch.no_grad():
            sorter(x)

    def forward_backward():
        sorter(x.clone().requires_grad_(True)).sum().backward()
    run = dataclasses.replace(params, model_width=width, amp=False, channels_last=False, batch_size=64)
    data = fake_cifar(64, device, torch.Generator().manual_seed(0))
    l2r_step = study_loop("l2r", run, data, 64, device)  # one epoch of one batch: one training step
    l2r_step()  # warm: lazy initialisation out of the count
    rows = []
    for case, fn in (("sorter forward, no grad (scoring)", no_grad_forward),
                     ("sorter forward + input gradient (one list)", forward_backward),
                     (f"L2R training step (ResNet-18 width {width}, batch 64)", l2r_step)):
        before, after = op_counts(fn)
        rows.append({"case": case, "ops_before": before, "ops_after": after, "removed": before - after,
                     "ratio": before / after})
    return pd.DataFrame(rows)


CAPTURED = "compiled step"  # the profiler range around each call of a function `compile` would capture


@contextlib.contextmanager
def marked_compiled_regions():
    """Every function `compile` would capture (training.py's step, VAAL's two) run eagerly inside a profiler
    range: what a CUDA graph would hold is then countable on the CPU."""
    from l2ral_lib import training
    from l2ral_lib.strategies import vaal

    def marking(function, params):
        def marked(*args):
            with torch.profiler.record_function(CAPTURED):
                return function(*args)
        return marked
    originals = training.compiled, vaal.compiled
    training.compiled = vaal.compiled = marking
    try:
        yield
    finally:
        training.compiled, vaal.compiled = originals


def captured_op_counts(fn) -> dict:
    """Host-side aten ops of one fn() (each aten::gru one op, as cuDNN runs it), split into those a
    reduce-overhead capture holds (inside a compiled step's forward, and every backward op: a compiled
    forward's backward is compiled whole) and the rest; and the replays that stand for the held ones."""
    with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU]) as profile:
        fn()
    events = profile.events()

    def ancestors(event):
        parent = event.cpu_parent
        while parent is not None:
            yield parent.name
            parent = parent.cpu_parent
    ops = [e for e in events if e.name.startswith("aten::") and "aten::gru" not in ancestors(e)]
    held = [e for e in ops if any(name == CAPTURED or name.startswith("autograd::engine::evaluate_function")
                                  for name in ancestors(e))]
    steps = sum(e.name == CAPTURED for e in events)
    # the optimizers' updates: per parameter on a CPU, a few foreach kernels on CUDA (torch's default there)
    optimizer = [e for e in ops if any(name.startswith("Optimizer.") for name in ancestors(e))]
    return {"eager_ops": len(ops), "ops_in_graphs": len(held), "graph_replays": 2 * steps,
            "captured_ops": len(ops) - len(held) + 2 * steps, "of_which_optimizer": len(optimizer)}


def bench_graphs(params, width=16):
    """Host-side ops per training step of random (plain), LL4AL (LossNet), L2R-AL (head and sorter) at batch
    64, and per VAAL iteration (two VAE steps, a discriminator step; batch 128), eager and as a
    reduce-overhead capture runs them: the ops outside the compiled steps (data, optimizers) plus a forward
    and a backward replay per step. Counted on the CPU: what capture removes, not a GPU time."""
    device = torch.device("cpu")
    run = dataclasses.replace(params, model_width=width, amp=False, channels_last=False, batch_size=64)
    data = fake_cifar(256, device, torch.Generator().manual_seed(0))
    rows = []
    with marked_compiled_regions():
        cases = [(f"{method} training step (ResNet-18 width {width}, batch 64)",
                  study_loop(method, run, data, 64, device)) for method in ("random", "ll4al", "l2r")]
        vae_run = dataclasses.replace(run, vaal_width=width, vaal_iterations=1)
        labeled, unlabeled = torch.arange(128, device=device), torch.arange(128, 256, device=device)
        ctx = QueryContext(model=None, data=data, task=Classification(), params=vae_run, labeled=labeled,
                           subset=unlabeled)
        strategy = get_strategy("vaal")(vae_run, Classification(), None, device)
        cases.append((f"VAAL iteration (VAE width {width}, batch 128)", functools.partial(strategy.fit, ctx, unlabeled)))
        for case, fn in cases:
            fn()  # warm: lazy initialisation out of the count
            counts = captured_op_counts(fn)
            rows.append({"case": case, **counts, "ratio": counts["eager_ops"] / counts["captured_ops"]})
    return pd.DataFrame(rows)


PARTS = ("train_step", "precision", "vae", "query", "sorter", "ops", "graphs", "phases")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--width", type=int, default=16, help="ResNet-18 width (64 = the paper's)")
    parser.add_argument("--steps", type=int, default=30, help="training batches timed per loop")
    parser.add_argument("--precision-models", default=",".join(PRECISION_MODELS),
                        help="models of the precision part: " + ", ".join(PRECISION_MODELS))
    parser.add_argument("--precision-steps", type=int, help="training batches timed per precision loop (default: per model)")
    parser.add_argument("--query-n", type=int, default=10000, help="subset, pool and labeled size of the query cases")
    parser.add_argument("--picks", type=int, default=1000, help="items picked per query case")
    parser.add_argument("--vae-iterations", type=int, default=10, help="VAAL iterations timed per setting (vae part)")
    parser.add_argument("--vaal-width", type=int, default=128, help="VAAL's VAE width (128 = the official code's)")
    parser.add_argument("--smoke-dirs", default="outputs/*-smoke", help="glob of finished smoke studies to tabulate")
    parser.add_argument("--out", default="outputs/bench")
    parser.add_argument("--parts", default=",".join(PARTS), help="comma-separated subset of " + ", ".join(PARTS))
    parser.add_argument("--query-methods", default=",".join(QUERY_METHODS), help="strategies timed by the query part")
    args = parser.parse_args()
    parts, methods = args.parts.split(","), args.query_methods.split(",")
    if set(args.precision_models.split(",")) - set(PRECISION_MODELS):
        parser.error(f"--precision-models: choose among {', '.join(PRECISION_MODELS)}")
    if set(parts) - set(PARTS) or ("sorter" in parts and "train_step" not in parts):
        parser.error(f"--parts: choose among {', '.join(PARTS)}; sorter needs train_step (its share of an L2R step)")
    device = torch.device(args.device)
    # the study's own speed settings (amp, channels_last as the profiles set them): bf16 where native
    params = load_params(PROJECT_ROOT / "params" / "cifar10-paper.yaml", {"model_width": args.width})
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    print(f"device {device} ({torch.get_num_threads()} threads, CPU bf16 flag: {cpu_bf16_flag()}), ResNet-18 width"
          f" {args.width}, batch {params.batch_size}; study setting: {describe(params, device)}", flush=True)
    tables = {}

    def done(name, table):
        """Each part's table is written and printed as soon as the part finishes: a later crash loses nothing."""
        tables[name] = table
        table.to_csv(out / f"{name}.csv", index=False)
        print(f"\n== {name}\n{table.round(3).to_string(index=False)}", flush=True)
    if "train_step" in parts:
        done("train_step", bench_train_step(params, device, args.steps))
    if "precision" in parts:
        done("precision", bench_precision(params, device, args.precision_models.split(","), args.precision_steps))
    if "vae" in parts:
        done("vae", bench_vae(params, device, iterations=args.vae_iterations))
    if "query" in parts:
        done("query", bench_query(params, device, args.width, args.query_n, args.picks, args.vaal_width, methods))
    if "sorter" in parts:
        l2r_images_per_s = tables["train_step"].set_index("loop").images_per_s["study train_cycle (l2r)"]
        done("sorter", bench_sorter(device, params.batch_size / l2r_images_per_s))
    if "ops" in parts:
        done("ops", bench_ops(params, args.width))
    if "graphs" in parts:
        done("graphs", bench_graphs(params, args.width))
    if "phases" in parts:
        for results in sorted(glob.glob(f"{args.smoke_dirs}/results.csv")):
            done(f"phases_{Path(results).parent.name}", timing_table(pd.read_csv(results)).reset_index())

if __name__ == "__main__":
    main()
