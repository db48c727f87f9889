"""Differentiable sorters after SoDeep (Engilberge et al., CVPR 2019): a recurrent net pretrained on
synthetic vectors to output their normalised ranks, then frozen and used to turn predicted losses
into ranks that a gradient can pass through (paper Sec. III-B, Fig. 3).

Two kinds, each shipped per list length in `l2ral_lib/sorter_weights/<kind>-<n>.pt` with a training
record (`.json`) beside it:
- `sodeep` (the paper's): SoDeep's bidirectional GRU sorter `gru_constrained`, its synthetic
  distributions and its training recipe (technicolor-research/sodeep model.py, dataset.py, train.py;
  the paper trains "according to the code of [40]" for 400 epochs, Sec. IV). Training is resumable
  (`<kind>-<n>.ckpt` beside the weights) because the full recipe takes hours to days on a CPU.
- `gru`: a named alternative, the project's scale-invariant BiGRU + MLP on standardised features,
  trained on eight wider families (heavy tails, loss-like, near ties).

Conventions: `ranks.exact_ranks(x)` gives ascending normalised ranks in [1/n, 1]; the sorters
approximate them. Both kinds see their rows through `ranks.scale_rows`, which bounds the gradient
w.r.t. the input (see there).

The package: `nets` (the networks, the frozen wrapper), `frozen_gru` (the GRU's input gradient without
cuDNN), `synthetic` (the training distributions), `weights` (the shipped files), `quality` (how well a
sorter ranks), `train` (the recipes and the `python -m l2ral_lib sorter` command). A study needs only
what this face exports; the training code is imported by the command alone.
"""
from __future__ import annotations

from .nets import DEFAULT_KIND, KINDS, FrozenSorter, build_sorter
from .weights import (MissingSorterError, available_sorter_lengths, load_sorter, sorter_training, weights_hash,
                      weights_path)

__all__ = ["DEFAULT_KIND", "KINDS", "FrozenSorter", "build_sorter", "MissingSorterError", "available_sorter_lengths",
           "load_sorter", "sorter_training", "weights_hash", "weights_path"]
