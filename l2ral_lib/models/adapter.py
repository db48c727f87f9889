"""Any classification network as the target model, used unchanged:

- `model: torchvision/<name>`: one of torchvision's classification models (torchvision.models.list_models),
  built with the data's class count and random weights (nothing is downloaded); `pretrained` may name a
  state dict of it to start from (its classifier may be shaped for another class count: that layer then
  starts random).
- `model: <module>:<factory>`: your own. `factory(params, data)` returns an nn.Module whose forward takes
  the (B, 3, H, W) batch and returns either a `ModelOutput` (used as it is; `feature_channels` is read
  from it where the module does not set it) or the logits alone, (B, classes), adapted as torchvision's.
  The module is imported from the working directory or any installed package.

The adapter reads what the loss heads and strategies need (`ModelOutput`) with forward hooks, found by
one forward pass over two pool images when the model is built:
- `features`: the network's stage outputs. Its modules are followed in the order they run, looking
  through plain containers (Sequential, ModuleList, ModuleDict) to their members; of the (B, C, H, W)
  maps they return, the last one of each spatial size is a stage's output, and the last four stages are
  the features (fewer where the network has fewer). A global pooling to 1x1 ends the maps: it is the
  embedding's, not a stage's. L2R-AL's head reads the last, LL4AL's all of them.
- `embedding`: the input of the last nn.Linear the forward runs (the classifier's input, the
  penultimate features core-set and BADGE read), or the spatial mean of the last map where none runs.
A network with no such maps, one that does not run on the data's inputs or returns logits of another
shape is a one-line ParamsError naming `model`.
"""
from __future__ import annotations

import importlib
import logging
import os
import sys

import torch
from torch import nn

from ..data import get_dataset
from ..errors import ParamsError
from ..paths import pretrained_file
from ..registry import did_you_mean
from .base import ModelOutput, register_model_family

log = logging.getLogger(__name__)

KEPT = "_l2ral_kept"  # where a hooked module leaves what it computed in this forward (its __dict__)
GLOBAL_POOLS = (nn.AdaptiveAvgPool2d, nn.AdaptiveMaxPool2d, nn.AvgPool2d, nn.MaxPool2d)
# torchvision's transformers: their stages return token sequences (vit) or channels-last maps (swin), not
# the (B, C, H, W) maps the loss heads pool
TRANSFORMERS = ("vit_", "swin_")


def _keep_output(module, args, output):
    # stateless, so that a deep copy of the model (its hooks copied with it) keeps its own outputs
    module.__dict__.setdefault(KEPT, []).append(output)


def _keep_input(module, args):
    module.__dict__.setdefault(KEPT, []).append(args[0])


class Adapted(nn.Module):
    """`net` returning logits -> ModelOutput(logits, stage maps, embedding), `net`'s state dict under `net.`."""

    def __init__(self, net: nn.Module, stages: list[tuple[nn.Module, int]], classifier: tuple[nn.Module, int] | None,
                 channels: list[int]):
        super().__init__()
        self.net = net
        # (module, its n-th call in a forward): tuples, so that nn.Module does not register net's modules twice
        self.stages, self.classifier = tuple(stages), classifier
        self.feature_channels = channels
        self.hooked = tuple({module for module, _ in stages})
        for module in self.hooked:
            module.register_forward_hook(_keep_output)
        if classifier:
            classifier[0].register_forward_pre_hook(_keep_input)
            self.hooked += (classifier[0],)

    def forward(self, x: torch.Tensor) -> ModelOutput:
        for module in self.hooked:  # what a forward that raised half-way left behind
            module.__dict__.pop(KEPT, None)
        logits = self.net(x)
        logits = getattr(logits, "logits", logits)  # GoogLeNet and Inception add auxiliary outputs in training
        kept = {module: module.__dict__.pop(KEPT) for module in self.hooked}
        features = [kept[module][call] for module, call in self.stages]
        if self.classifier:
            module, call = self.classifier
            embedding = kept[module][call].flatten(1)
        else:
            embedding = features[-1].mean((2, 3))
        return ModelOutput(logits, features, embedding)


def _members(module: nn.Module):
    """The modules a forward of `module` runs, looking through the containers that only run their members."""
    for child in module.children():
        forward = type(child).forward
        plain = ((isinstance(child, nn.Sequential) and forward is nn.Sequential.forward)
                 or (isinstance(child, (nn.ModuleList, nn.ModuleDict)) and forward is nn.Module.forward))
        if plain:
            yield from _members(child)
        else:
            yield child


def _probe(name: str, net: nn.Module, inputs: torch.Tensor):
    """One forward in eval mode, recording the members' outputs and the Linear layers' calls in order."""
    calls, linears = [], []
    counts: dict[nn.Module, int] = {}

    def record(module, args, output):
        calls.append((module, counts.get(module, 0), output))
        counts[module] = counts.get(module, 0) + 1

    handles = [m.register_forward_hook(record) for m in _members(net)]
    handles += [m.register_forward_pre_hook(lambda m, a: linears.append(m)) for m in net.modules()
                if isinstance(m, nn.Linear)]
    modes = {m: m.training for m in net.modules()}
    try:
        net.eval()
        with torch.no_grad():
            output = net(inputs)
    except Exception as error:  # noqa: BLE001 -- whatever the network raises, the user needs one line
        reason = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise ParamsError("model", f"{name} does not run on the data's inputs {tuple(inputs.shape[1:])}: {reason};"
                                   " raise image_size or choose another model") from None
    finally:
        for handle in handles:
            handle.remove()
        for module, training in modes.items():
            module.train(training)
    return output, calls, linears


def adapt(name: str, net: nn.Module, data) -> Adapted:
    """`net` (returning logits) with the hooks that give the heads its stage maps and embedding (module docstring)."""
    inputs = probe_inputs(data)
    output, calls, linears = _probe(name, net, inputs)
    check_logits(name, getattr(output, "logits", output), inputs, data)
    maps = [(module, call, out) for module, call, out in calls
            if isinstance(out, torch.Tensor) and out.dim() == 4 and not (isinstance(module, GLOBAL_POOLS)
                                                                         and out.shape[-2:] == (1, 1))]
    if not maps:
        raise ParamsError("model", f"{name} returns no (B, C, H, W) feature maps from its layers for the loss heads to"
                                   " read; use a convolutional network, or return ModelOutput from your own")
    stages = [maps[i] for i in range(len(maps)) if i + 1 == len(maps) or maps[i + 1][2].shape[-2:] != maps[i][2].shape[-2:]]
    stages = stages[-4:]
    classifier = None
    if linears:
        last = linears[-1]
        classifier = (last, sum(m is last for m in linears) - 1)
    return Adapted(net, [(m, call) for m, call, _ in stages], classifier, [out.shape[1] for _, _, out in stages])


def probe_inputs(data) -> torch.Tensor:
    """Two pool images (one where the pool has one) as the model receives them, on the CPU, where models are built."""
    index = torch.arange(min(2, data.n_pool), device=data.device)
    return data.train_batch(index, augment=False)[0].cpu()


def check_logits(name: str, logits, inputs: torch.Tensor, data) -> None:
    expected = (len(inputs), data.num_classes)
    if not isinstance(logits, torch.Tensor) or tuple(logits.shape) != expected:
        got = tuple(logits.shape) if isinstance(logits, torch.Tensor) else type(logits).__name__
        raise ParamsError("model", f"{name} returns {got} for a batch of {len(inputs)}; expected logits {expected}"
                                   f" ({data.num_classes} classes in the data)")


def check_common(params) -> None:
    """What every adapted model needs of the params: classification data, no added dropout layer."""
    task = get_dataset(params.dataset).task
    if task != "classification":
        raise ParamsError("model", f"{params.model} is a classification network and {params.dataset} a {task} task")
    if params.dropout:
        raise ParamsError("dropout", f"is the built-in models' dropout layer; {params.model} keeps its own layers"
                                     " (set dropout: 0)")


# ------------------------------------------------------------------------------------ torchvision/<name>
PREFIX = "torchvision/"


def _torchvision_names() -> list[str]:
    import torchvision  # noqa: PLC0415 -- only where a torchvision model is named

    return torchvision.models.list_models(module=torchvision.models)


def check_torchvision(params) -> None:
    name = params.model.removeprefix(PREFIX)
    known = _torchvision_names()
    if name not in known:
        raise ParamsError("model", f"unknown torchvision classification model '{name}'{did_you_mean(name, known)};"
                                   " known: torchvision.models.list_models(module=torchvision.models)")
    if name.startswith(TRANSFORMERS):
        raise ParamsError("model", f"{params.model} is a transformer: its stages return no (B, C, H, W) maps for the"
                                   " loss heads; use a convolutional model (resnet18, mobilenet_v3_small, ...)")
    check_common(params)


def build_torchvision(params, data) -> Adapted:
    import torchvision  # noqa: PLC0415

    net = torchvision.models.get_model(params.model.removeprefix(PREFIX), weights=None, num_classes=data.num_classes)
    if params.pretrained:
        load_weights(net, params.pretrained, data.num_classes)
    return adapt(params.model, net, data)


def load_weights(net: nn.Module, path: str, num_classes: int) -> None:
    """Load the state dict in `path` into `net`; tensors shaped for another class count (the classifier's
    rows) stay as initialised, anything else that does not fit is a ParamsError naming `pretrained`."""
    file = pretrained_file(path)
    state = torch.load(file, map_location="cpu", weights_only=True)
    state = state.get("state_dict", state)
    own = net.state_dict()
    classifier = [k for k in own if k in state and state[k].shape != own[k].shape
                  and own[k].shape[0] == num_classes and state[k].shape[1:] == own[k].shape[1:]]
    wrong = [k for k in own if k in state and state[k].shape != own[k].shape and k not in classifier]
    missing, unknown = [k for k in own if k not in state], [k for k in state if k not in own]
    if wrong or missing or unknown:
        raise ParamsError("pretrained", f"{file} does not fit this model: {len(wrong)} tensors of another shape"
                                        f" {wrong[:2]}, {len(missing)} missing {missing[:2]}, {len(unknown)} unknown"
                                        f" {unknown[:2]}")
    net.load_state_dict({k: v for k, v in state.items() if k not in classifier}, strict=False)
    if classifier:
        log.info("pretrained %s: %s shaped for another class count, left at random initialisation", file,
                 ", ".join(classifier))


# ------------------------------------------------------------------------------------ <module>:<factory>
def factory_of(name: str):
    """The callable `<module>:<factory>` names; the working directory is searched first, as `python -m` does."""
    module_name, _, attribute = name.partition(":")
    if not module_name or not attribute:
        raise ParamsError("model", f"'{name}': expected <module>:<factory>, e.g. mymodels:build")
    if "" not in sys.path and os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        module = importlib.import_module(module_name)
    except Exception as error:  # noqa: BLE001 -- a missing module or an error in it: one line either way
        raise ParamsError("model", f"cannot import module '{module_name}' ({type(error).__name__}: {error})") from None
    factory = getattr(module, attribute, None)
    if not callable(factory):
        # which file was imported: another module of that name may come first on the path
        where = os.path.relpath(module.__file__) if module.__file__ else module_name
        where = module.__file__ if where.startswith("..") else where
        raise ParamsError("model", f"module '{module_name}' ({where}) has no callable '{attribute}'")
    return factory


def check_factory(params) -> None:
    factory_of(params.model)
    check_common(params)


def build_factory(params, data) -> nn.Module:
    net = factory_of(params.model)(params, data)
    if not isinstance(net, nn.Module):
        raise ParamsError("model", f"{params.model} returned {type(net).__name__}, not a torch.nn.Module")
    inputs = probe_inputs(data)
    output, _, _ = _probe(params.model, net, inputs)
    if not isinstance(output, ModelOutput):
        return adapt(params.model, net, data)
    check_logits(params.model, output.output, inputs, data)
    if not output.features or any(not isinstance(f, torch.Tensor) or f.dim() != 4 for f in output.features):
        raise ParamsError("model", f"{params.model} returns ModelOutput whose features are not a non-empty list of"
                                   " (B, C, H, W) maps")
    if not hasattr(net, "feature_channels"):
        net.feature_channels = [f.shape[1] for f in output.features]
    return net


register_model_family(lambda name: name.startswith(PREFIX), check_torchvision, build_torchvision)
register_model_family(lambda name: ":" in name, check_factory, build_factory)
