"""The sorter networks: SoDeep's `gru_constrained` (the paper's), the project's `gru` alternative, and
the frozen wrapper a study ranks through."""
from __future__ import annotations

import torch
from torch import nn

from ..ranks import scale_rows
from .frozen_gru import frozen_gru

KINDS = ("sodeep", "gru")
DEFAULT_KIND = "sodeep"  # the paper's sorter; config.Params.sorter_kind names the one a study uses


class SoDeepGRU(nn.Module):
    """SoDeep's `gru_constrained` (technicolor-research/sodeep model.py): x -> sigmoid(x / 2 + 1) ->
    6-layer bidirectional GRU(1 -> 32) -> sum of both directions' 64 states per position -> sigmoid.
    (B, n) -> (B, n) approximate `exact_ranks`. The L2R-AL paper names "the bidirectional GRU
    sorter" (Sec. IV); of SoDeep's GRU models this is the one its README trains (`-m gruc`).

    One addition, declared: the rows pass `scale_rows` with floor 1 first, in training as in use.
    SoDeep's synthetic rows have sd up to about 1 (its uniform and normal draws), where this only
    centres them; wider rows (predicted losses come at any scale) are shrunk to sd 1 instead of
    saturating the input sigmoid, whose gradient would vanish exponentially; narrower rows are
    never magnified, so below sd 1 the net ranks as SoDeep's does (to about sd 1e-2, sorter notebook)."""

    def __init__(self, hidden: int = 32, layers: int = 6, input_floor: float = 1.0):
        super().__init__()
        self.config = {"hidden": hidden, "layers": layers, "input_floor": input_floor}
        self.rnn = nn.GRU(1, hidden, num_layers=layers, batch_first=True, bidirectional=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        u = scale_rows(x.float(), self.config["input_floor"])
        states = frozen_gru(self.rnn, torch.sigmoid(u.unsqueeze(-1) / 2 + 1))  # (B, n, 2 * hidden)
        return torch.sigmoid(states.sum(-1))


def _robust_standardise(z: torch.Tensor) -> torch.Tensor:
    """(B, n) standardised rows -> (B, n) centred on the median, scaled by the median absolute
    deviation. One outlier squeezes the bulk of a mean/sd-standardised row into a sliver; the
    median and MAD ignore it, so the bulk keeps a resolution the GRU can tell apart. The 1e-2 floor
    (in sd units) keeps rows with more than half their values tied finite."""
    centred = z - _lower_median(z)
    return centred / (_lower_median(centred.abs()) + 1e-2)


def _lower_median(z: torch.Tensor) -> torch.Tensor:
    """(..., n) -> (..., 1): torch.median's value (the lower middle), by a sort: torch.median with indices has
    no deterministic CUDA kernel (params `deterministic`), a sort's values and gradient do."""
    return z.sort(-1).values[..., (z.shape[-1] - 1) // 2, None]


class GRUSorter(nn.Module):
    """The `gru` kind: (B, n) scores -> (B, n) approximate `exact_ranks`.

    Per position the GRU reads monotone transforms of that value alone (the ranking itself is
    learned): the standardised value z, tanh(z), and asinh of the robust-standardised value (a
    log-like squash that keeps heavy tails ordered without letting them dominate). A multi-layer
    bidirectional GRU then sees the whole list; a small MLP per position maps [both directions'
    states, the features] to the predicted normalised rank. Its shipped weights were trained on rows
    standardised at any sd; the input floor (`scale_rows`) came later, at 0.1: rows narrower than
    that reach it compressed, and the robust feature, which rescales by the median absolute
    deviation, keeps them ranked (sorter notebook). A floor of 1, as the sodeep kind's, would cost
    the length-4 weights more (project uniform family: Spearman 0.94 with floor 1, 0.97 with 0.1,
    1.00 without a floor; 300 held-out rows each)."""

    n_features = 3

    def __init__(self, hidden: int = 64, layers: int = 2, readout: int = 64, input_floor: float = 0.1):
        super().__init__()
        self.config = {"hidden": hidden, "layers": layers, "readout": readout, "input_floor": input_floor}
        self.gru = nn.GRU(self.n_features, hidden, num_layers=layers, batch_first=True, bidirectional=True)
        self.readout = nn.Sequential(nn.Linear(2 * hidden + self.n_features, readout), nn.ReLU(),
                                     nn.Linear(readout, 1))

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """(B, n) -> (B, n, 3), invariant to x -> a * x + b for a > 0 while the row's sd stays >= the floor."""
        z = scale_rows(x.float(), self.config["input_floor"])
        return torch.stack([z, torch.tanh(z), torch.asinh(_robust_standardise(z))], -1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        features = self.features(x)
        states = frozen_gru(self.gru, features)  # (B, n, 2 * hidden)
        return self.readout(torch.cat([states, features], -1)).squeeze(-1)


class FrozenSorter(nn.Module):
    """A pretrained sorter for lists of exactly `seq_len` items; parameters frozen, always in eval mode.
    (B, seq_len) -> (B, seq_len); a 1-d input (seq_len,) gives (seq_len,)."""

    def __init__(self, net: nn.Module, seq_len: int):
        super().__init__()
        self.net, self.seq_len = net, seq_len
        self.requires_grad_(False)
        self.eval()

    def train(self, mode: bool = True):
        return super().train(False)  # stays in eval mode when the model holding it calls .train()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[-1] != self.seq_len:
            raise ValueError(f"this sorter ranks lists of length {self.seq_len}, got length {x.shape[-1]}")
        lead = x.shape[:-1]
        # cuDNN stays on: the input gradient is frozen_gru's batched path, never cuDNN's RNN backward
        # (which refuses eval mode); frozen_gru turns cuDNN off itself where autograd would need it
        return self.net(x.reshape(-1, self.seq_len)).reshape(*lead, self.seq_len)


def check_kind(kind: str) -> None:
    if kind not in KINDS:
        raise ValueError(f"unknown sorter kind '{kind}'; known: {', '.join(KINDS)}")


def build_sorter(kind: str = DEFAULT_KIND, **config) -> nn.Module:
    """An untrained sorter network of `kind`."""
    check_kind(kind)
    return SoDeepGRU(**config) if kind == "sodeep" else GRUSorter(**config)
