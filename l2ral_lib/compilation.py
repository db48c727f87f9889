"""params `compile`: the training steps under torch.compile, and on CUDA replayed as CUDA graphs.

A step of the study is many small kernels: a ResNet-18 at batch 64, the loss head, and for L2R-AL the
sorter's six-layer GRU, forward and input gradient. Issued one by one from Python, a GPU waits on the
host (~8,000 host-side ops per L2R-AL step, BENCHMARKS.md). torch.compile traces a step's forward into one
graph, AOTAutograd its backward into another, and `reduce-overhead` records each as a CUDA graph per
input shape, replayed by one launch. What makes the whole step one graph: the sorter's batched path is a
custom operator (sorter/frozen_gru.py), and the callers run only full batches through the compiled
function (an epoch's short last batch runs eagerly: each labeled-set size would be another graph).
tests/test_compilation.py checks on the CPU that every training step traces without a break and trains
as the eager one does.
"""
from __future__ import annotations

import torch


def describe(params) -> str:
    """What `compile` adds to the precision line of a run (empty when off)."""
    if not params.compile:
        return ""
    return "; training steps compiled" + (" (reduce-overhead: CUDA graphs on CUDA)" if params.compile == "reduce-overhead" else "")


def compiled(function, params):
    """`function` under params' `compile`: false, itself; true, torch.compile'd (fused kernels, one
    graph for the forward and one for the backward); reduce-overhead, and on CUDA those graphs replayed
    as CUDA graphs, a launch each instead of one per kernel (on a CPU nothing is captured: true's fused
    kernels). The optimizers' steps stay eager (a few foreach kernels each)."""
    if not params.compile:
        return function
    from torch._dynamo import config  # noqa: PLC0415 -- only when compiling: importing Dynamo costs a second or more
    # one function, traced again for every strategy (its head is another set of guards): keep them
    # all compiled rather than fall back to eager after the default 8
    config.recompile_limit = max(config.recompile_limit, 64)
    # Dynamo refuses nn.GRU modules unless allowed; the sorter's frozen path only reads their weights
    # and calls its custom operator
    config.allow_rnn = True
    if params.compile != "reduce-overhead":
        return torch.compile(function)
    graphed = torch.compile(function, mode="reduce-overhead")

    def step(*args):
        # a new training step: the previous step's graph outputs (read by now) may be overwritten
        torch.compiler.cudagraph_mark_step_begin()
        return graphed(*args)

    return step
