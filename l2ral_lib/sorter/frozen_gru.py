"""A frozen GRU whose input gradient is computed in a few batched ops per layer instead of autograd's
per-step graph.

L2R-AL backpropagates through the frozen sorter on every training batch (paper Sec. III-B), to the
predicted losses and never to the sorter's weights. Autograd records SoDeep's 6-layer bidirectional
GRU as tens of thousands of tiny ops per list of 64 (every gate of every time step of every layer and
direction), and on a CPU that bookkeeping, not arithmetic, is the cost: 68 ms per list forward and
backward on 2 cores, against 9 ms for the forward alone without a graph (BENCHMARKS.md). With the
weights frozen, the backward through one layer and direction is a linear recursion in the gradient of
the hidden state,

    dh_{s-1} = g_{s-1} + dh_s M_s,     M_s = diag(z_s) + sum_k diag(c_{k,s}) W_hh,k

(g: the gradient arriving from above; z the update gate; c_k the local derivatives of the three gates;
W_hh,k the gate's block of the recurrent weights), and every M_s follows from the forward's hidden
states at once. Only T vector-matrix products stay sequential, both directions in one. The forward is
PyTorch's own GRU, run one layer at a time (the same kernels the stacked call runs, so the same output
bit for bit); the gradient equals autograd's up to float rounding (tests/sorter/test_frozen_gru.py).
"""
from __future__ import annotations

import torch
from torch import nn


def frozen_gru(rnn: nn.GRU, inputs: torch.Tensor) -> torch.Tensor:
    """`rnn(inputs)[0]` for a batch_first GRU, with the fast input gradient when the GRU's weights are
    frozen and `inputs` needs a gradient; otherwise (the sorter in training, a call without a graph)
    PyTorch's own.

    cuDNN (on CUDA) runs every forward: a no-grad one, and the batched path's, whose backward is this
    module's own ops. It is off only where autograd would differentiate PyTorch's GRU in eval mode (a
    frozen GRU this path cannot batch, an eval-mode copy with trainable weights): cuDNN's RNN backward
    refuses eval mode, and without cuDNN the same function runs as per-step kernels.

    The batched path is a custom operator (`l2ral::frozen_gru`) with its own backward: torch.compile
    keeps it inside the training step's graph (it cannot trace PyTorch's GRU), so a CUDA-graph capture
    of the step (training.compiled) holds the sorter too, its backward's sequential products included."""
    frozen = not any(weight.requires_grad for weight in rnn.parameters())
    recording = torch.is_grad_enabled() and (inputs.requires_grad or not frozen)
    if frozen and rnn.batch_first and rnn.bias and recording:
        weights = [tensor for direction in rnn.all_weights for tensor in direction]
        return _frozen_gru(inputs, weights, rnn.num_layers, rnn.bidirectional)[-1]
    if recording and not rnn.training:
        with torch.backends.cudnn.flags(enabled=False):
            return rnn(inputs)[0]
    return rnn(inputs)[0]


def _layer_weights(weights: list[torch.Tensor], layer: int, directions: int) -> list[list[torch.Tensor]]:
    """[w_ih, w_hh, b_ih, b_hh] of each direction of `layer`, from the flat list of nn.GRU.all_weights."""
    per_layer = weights[4 * directions * layer:4 * directions * (layer + 1)]
    return [per_layer[4 * d:4 * d + 4] for d in range(directions)]


def _run_layer(weights: list[list[torch.Tensor]], inputs: torch.Tensor) -> torch.Tensor:
    """One layer over (B, T, D_in) -> (B, T, directions * hidden), by the kernels nn.GRU uses."""
    hidden = weights[0][1].shape[1]
    h0 = inputs.new_zeros(len(weights), inputs.shape[0], hidden)
    flat = [tensor for direction in weights for tensor in direction]
    return torch._VF.gru(inputs, h0, flat, True, 1, 0.0, False, len(weights) == 2, True)[0]


def _run_order(sequence: torch.Tensor, direction: int) -> torch.Tensor:
    """(B, T, ...) in the order `direction` ran over time: the reverse direction's flipped (an involution)."""
    return sequence if direction == 0 else sequence.flip(1)


def _recurrence(states: torch.Tensor, inputs: torch.Tensor, w_ih, w_hh, b_ih, b_hh):
    """One direction in its processing order: hidden states (B, T, H), inputs (B, T, D) ->
    (M (B, T, H, H), c (B, T, 3H)): the recursion's matrices, and the factors that turn the hidden
    gradient dh_s into the gradient of the input pre-activations [r, z, n] of step s."""
    hidden = states.shape[-1]
    previous = torch.cat([states.new_zeros(states.shape[0], 1, hidden), states[:, :-1]], 1)
    gi_r, gi_z, gi_n = (inputs @ w_ih.T + b_ih).split(hidden, -1)
    gh_r, gh_z, gh_n = (previous @ w_hh.T + b_hh).split(hidden, -1)
    r, z = torch.sigmoid(gi_r + gh_r), torch.sigmoid(gi_z + gh_z)
    n = torch.tanh(gi_n + r * gh_n)
    d_n = (1 - z) * (1 - n * n)  # h = (1 - z) n + z h_prev
    d_r = d_n * gh_n * r * (1 - r)
    d_z = (previous - n) * z * (1 - z)
    # the hidden pre-activations' factors differ from the inputs' only in the new gate, which r scales
    hidden_factors = torch.stack([d_r, d_z, d_n * r], -2)  # (B, T, 3, H)
    matrices = (hidden_factors.unsqueeze(-1) * w_hh.view(3, hidden, hidden)).sum(-3)  # (B, T, H, H)
    matrices.diagonal(dim1=-2, dim2=-1).add_(z)
    return matrices, torch.cat([d_r, d_z, d_n], -1)


@torch.library.custom_op("l2ral::frozen_gru", mutates_args=())
def _frozen_gru(inputs: torch.Tensor, weights: list[torch.Tensor], num_layers: int,
                bidirectional: bool) -> list[torch.Tensor]:
    """Every layer's output, the last one the GRU's (the others are the next layers' inputs, kept for
    the backward)."""
    directions = 2 if bidirectional else 1
    outputs, x = [], inputs
    for layer in range(num_layers):
        x = _run_layer(_layer_weights(weights, layer, directions), x)
        outputs.append(x)
    return outputs


@_frozen_gru.register_fake
def _(inputs, weights, num_layers, bidirectional):
    directions, hidden = (2 if bidirectional else 1), weights[1].shape[1]
    return [inputs.new_empty(*inputs.shape[:2], directions * hidden) for _ in range(num_layers)]


def _setup_context(ctx, inputs, output):
    x, weights, num_layers, bidirectional = inputs
    ctx.num_layers, ctx.directions, ctx.n_weights = num_layers, 2 if bidirectional else 1, len(weights)
    ctx.save_for_backward(x, *weights, *output)


def _backward(ctx, grad_outputs):
    """The input gradient through every layer: per layer and direction the recursion's matrices at once,
    then T batched vector-matrix products for both directions (module docstring)."""
    x, *rest = ctx.saved_tensors
    weights, outputs = rest[:ctx.n_weights], rest[ctx.n_weights:]
    grad = None
    for layer in reversed(range(ctx.num_layers)):
        # the gradient reaching this layer's output: from the next layer, and any from outside
        arriving = grad_outputs[layer]
        if arriving is not None:
            grad = arriving if grad is None else grad + arriving
        inputs, states = (x if layer == 0 else outputs[layer - 1]), outputs[layer]
        hidden = states.shape[-1] // ctx.directions
        layer_weights = _layer_weights(weights, layer, ctx.directions)
        matrices, factors, grads = [], [], []
        for d, (w_ih, w_hh, b_ih, b_hh) in enumerate(layer_weights):
            m, f = _recurrence(_run_order(states[..., d * hidden:(d + 1) * hidden], d), _run_order(inputs, d),
                               w_ih, w_hh, b_ih, b_hh)
            matrices.append(m)
            factors.append(f)
            grads.append(_run_order(grad[..., d * hidden:(d + 1) * hidden], d))
        # both directions as one batch of recursions: (directions * B, T, ...)
        m, g = torch.cat(matrices), torch.cat(grads)
        steps = g.shape[1]
        dh = g[:, -1:]
        dhs = [dh]
        for s in range(steps - 2, -1, -1):
            dh = torch.baddbmm(g[:, s:s + 1], dh, m[:, s + 1])
            dhs.append(dh)
        dh_all = torch.cat(dhs[::-1], 1).split(inputs.shape[0])
        grad = sum(_run_order((dh_all[d].repeat(1, 1, 3) * factors[d]) @ w_ih, d)
                   for d, (w_ih, _, _, _) in enumerate(layer_weights))
    return grad, [None] * ctx.n_weights, None, None


_frozen_gru.register_autograd(_backward, setup_context=_setup_context)
