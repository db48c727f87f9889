"""Projected wall time of a study on one device, from `make gpu-check`'s measured figures
(outputs/gpu-check/*.json): what `python -m l2ral_lib check` prints per method, and gpu-check's own
projection of every paper study.

A method's cycle costs its training steps (labeled images x epochs / batch, at the measured ms per step
of that method: L2R-AL's step carries the sorter, LL4AL's its LossNet) plus, for VAAL, its fit: the
official num_images x train_epochs // batch_size iterations per cycle at the measured ms per iteration
(the paper profiles keep the official count; this is where its cost shows). Query scoring, evaluation
and k-center are left out (seconds per cycle on a GPU against minutes of training).
"""
from __future__ import annotations

import json
from pathlib import Path

from .config import Params
from .strategies.vaal import iterations_per_cycle
from .study_folder import study_slices

# the training pools of the datasets gpu-check projects without loading them (VAAL's iteration count)
POOL_SIZES = {"cifar10": 50000, "celeba": 162770}
# gpu-check times the CIFAR-10 ResNet-18 at 32x32; a profile of the same model at another input size is
# scaled by its pixels (CelebA's 64x64: 4x), the other models are not projected
TIMED_MODEL, TIMED_SIZE = "resnet18", 32
INPUT_SIZES = {"cifar10": 32, "celeba": 64}


def newest_figures(folder: str | Path, device_name: str) -> tuple[Path, dict] | None:
    """The newest finished gpu-check file of this device kind (its `device_name`; dry runs aside), or None."""
    found = []
    for path in Path(folder).glob("*.json"):
        try:
            figures = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        if figures.get("device_name") == device_name and not figures.get("dry_run") and figures.get("finished"):
            found.append((figures.get("finished", ""), path, figures))
    if not found:
        return None
    _, path, figures = max(found, key=lambda item: (item[0], str(item[1])))
    return path, figures


def project(params: Params, figures: dict, n_pool: int | None = None) -> dict[str, dict]:
    """Per method: projected seconds of one seed on one process (`train_s`, `vaal_fit_s`, `seconds`), or
    `None` seconds with a `reason` where the figures cannot say (another model, an untimed width)."""
    n_pool = n_pool or params.pool_size or POOL_SIZES.get(params.dataset)
    steps, out = figures["step_ms"], {}
    scale = (INPUT_SIZES.get(params.dataset, 0) / TIMED_SIZE) ** 2
    for method in params.strategies:
        if params.model != TIMED_MODEL or not scale or params.model_width != figures["width"] \
                or params.batch_size != figures["batch"]:
            out[method] = {"seconds": None, "reason": f"gpu-check times {TIMED_MODEL} width {figures['width']}, batch"
                                                      f" {figures['batch']} at {TIMED_SIZE}x{TIMED_SIZE}"}
            continue
        # a method gpu-check did not time trains as the plain step does (no head), a loss-head variant as L2R-AL
        ms = steps.get(method, steps.get("l2r") if method.startswith(("l2r", "oracle")) else steps.get("random"))
        if ms is None:
            out[method] = {"seconds": None, "reason": "neither it nor a step of its kind was timed"}
            continue
        images = sum(max(params.labeled_at(c), params.min_epoch_samples or 0) for c in range(params.n_cycles)) \
            * params.epochs
        train = images / params.batch_size * ms / 1000 * scale
        fit = 0.0
        if method == "vaal" and n_pool:
            fit = (params.n_cycles - 1) * iterations_per_cycle(params, n_pool) * figures["vaal_ms_per_iteration"] / 1000
            fit *= scale * (params.vaal_width / figures["vaal_width"]) ** 2
        out[method] = {"seconds": train + fit, "train_s": train, "vaal_fit_s": fit}
        if method not in steps:
            out[method]["estimated_from"] = "l2r" if method.startswith(("l2r", "oracle")) else "random"
    return out


def describe_projection(params: Params, figures_file: Path | None, figures: dict | None, device_name: str,
                        n_pool: int | None = None) -> list[str]:
    """`check`'s lines: each method's projected hours for one seed on `device_name`, or why there are none;
    VAAL's official iteration count is shown either way."""
    lines = []
    if params.strategies and "vaal" in params.strategies:
        pool = n_pool or params.pool_size or POOL_SIZES.get(params.dataset)
        if pool:
            how = "the official count" if params.vaal_iterations is None else "set by vaal_iterations"
            lines.append(f"  vaal: {iterations_per_cycle(params, pool):,} VAE iterations per cycle x"
                         f" {params.n_cycles - 1} queries ({how})")
    if figures is None:
        lines.append(f"  projected time on {device_name}: no gpu-check figures for it under outputs/gpu-check"
                     " (`make gpu-check` on such a device writes them)")
        return lines
    projected = project(params, figures, n_pool)
    total = [p["seconds"] for p in projected.values() if p["seconds"] is not None]
    lines.append(f"  projected time per seed on one {device_name} process ({figures_file.name}):")
    for method, p in projected.items():
        if p["seconds"] is None:
            lines.append(f"    {method}: not projected ({p['reason']})")
            continue
        extra = f", of which VAAL's fit {p['vaal_fit_s'] / 3600:.2f} h" if p["vaal_fit_s"] else ""
        lines.append(f"    {method}: {p['seconds'] / 3600:.2f} h{extra}")
    if total:
        study = sum(p["seconds"] * len(params.seeds_of(m)) for m, p in projected.items() if p["seconds"] is not None)
        lines.append(f"    all {len(total)} projected methods: {sum(total) / 3600:.2f} h per seed; the study's"
                     f" {len(study_slices(params))} slices: {study / 3600:.2f} h (JOBS=1)")
    return lines
