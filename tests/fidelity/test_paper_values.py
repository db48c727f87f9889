"""The paper profiles against the paper's numbers (and the reference-code defaults the paper adopts by
name), so that an edit to a *-paper.yaml or to the code behind it cannot drift unnoticed; and
FIDELITY.md against the resolved profiles, so that the table cannot drift either."""
import json
import re
import types

import pytest
import torch
import yaml

from helpers import ROOT
from l2ral_lib import data
from l2ral_lib.checks import load_params
from l2ral_lib.config import Params
from l2ral_lib.data import celeba
from l2ral_lib.heads import L2RHead
from l2ral_lib.sorter import available_sorter_lengths, weights_path
from l2ral_lib.strategies import get_strategy
from l2ral_lib.strategies.vaal import iterations_per_cycle
from l2ral_lib.training import make_optimizer

PAPER_METHODS = {"random", "entropy", "coreset", "vaal", "ll4al", "l2r"}

# The paper's numbers: profile -> quantity -> value. A quantity is a Params field or a name that
# `measure` computes from the resolved profile and the code that runs it. Sections are those of
# the L2R-AL paper (ICPR 2020); "via" names the reference code the paper adopts for that value.
PAPER = {
    "cifar10": {
        "dataset": "cifar10",
        "pool": 50000,  # IV-A: "CIFAR-10 dataset contains 50000 training images
        "test": 10000,  # and 10000 test images"
        "model": "resnet18",  # IV-A: ResNet-18 target
        "model_width": 64,  # IV-A: the standard ResNet-18 (64 channels in the first block)
        "batch_size": 64,  # IV-A: "The batch size is 64"
        "sorter_length": 64,  # IV (intro): sorter "sequence length of 64, for the case of image classification"
        "sorter_kind": "sodeep",  # IV (intro): the bidirectional GRU sorter "according to the code of [40]"
        "sorter_epochs": 400,  # IV (intro): "We train the sorter for 400 epochs" (the recipe's target)
        "subset_size": 10000,  # IV-A: "Subset size is set to 10000 for CIFAR-10"
        "initial_labeled": 1000,  # IV-A: "begin [...] with 1000 labeled instances
        "query_size": 1000,  # [...] adding 1000 labeled instances
        "cycles": 10,  # [...] for 10 cycles"
        "continue_model": True,  # IV-A: "we continue to train the target model"
        "epochs": 150,  # IV-A: SGD "for 150 epochs
        "target_optimizer": "SGD",
        "target_lr_by_epoch": {0: 0.1, 119: 0.1, 120: 0.01, 149: 0.01},  # lr 0.1; after 120 epochs 0.01"
        "momentum": 0.9,  # IV-A: "momentum and the weight decay are 0.9 and 0.0005"
        "weight_decay": 5e-4,
        "head_optimizer_class": "Adam",  # IV-A: both loss prediction modules "with Adam [...]
        "head_lr_by_epoch": {0: 1e-3, 149: 1e-3},  # learning rate of 1e-3 for 150 epochs"
        "leaky_relu_slope": 0.01,  # IV-A: "The parameter alpha of Leaky ReLU is 0.01"
        "augment": True,  # IV-A: random crop + horizontal flip + per-channel normalisation
        "crop_padding": 2,  # IV-A: "32x32 size random crop from 36x36 zero-padded images"
        "vaal_latent_dim": 32,  # IV-A: "the VAE latent dimension is 32"
        "vaal_lr": 5e-4,  # IV-A: "Adam optimizer with a learning rate of 5e-4 as the authors do"
        "vaal_batch_size": 128,  # IV-A via sinhasam/vaal arguments.py defaults ("default hyperparameters")
        "vaal_epochs": 100,  # IV-A via arguments.py train_epochs
        "vaal_width": 128,  # IV-A via model.py (128..1024 channels)
        "vaal_beta": 1.0,  # IV-A via arguments.py beta
        "vaal_adversary_weight": 1.0,  # IV-A via arguments.py adversary_param
        "vaal_iterations_per_cycle": 39062,  # IV-A via solver.py: 50000 * 100 // 128
        "ll4al_margin": 1.0,  # IV-A: LL4AL as [9] (Mephisto405 config.py MARGIN)
        "ll4al_weight": 1.0,  # IV-A: LL4AL as [9] (Mephisto405 config.py WEIGHT, lambda)
        "runs": 5,  # IV-A: "average accuracies of 5 runs"
        "methods": PAPER_METHODS,  # IV-A: core-set, VAAL, LL4AL, random, entropy and L2R-AL
    },
    "celeba": {
        "dataset": "celeba",
        "pool": 162770,  # IV-B: "162770 training images
        "test": 19962,  # and 19962 test images"
        "image_size": 64,  # IV-B: "resize all the images to 64x64 pixels"
        "model": "resnet18",  # IV-B: "other settings are in accordance with CIFAR-10"
        "batch_size": 64,  # as CIFAR-10 (IV-B)
        "sorter_length": 64,  # IV (intro): 64 for image classification
        "sorter_kind": "sodeep",  # IV (intro): the bidirectional GRU sorter "according to the code of [40]"
        "sorter_epochs": 400,  # IV (intro): "We train the sorter for 400 epochs" (the recipe's target)
        "subset_size": 20000,  # IV-B: "The subset size is 20000"
        "initial_labeled": 100,  # IV-B: "begin [...] with 100 labeled instances
        "query_size": 100,  # [...] add another 100"
        "cycles": 10,  # as CIFAR-10 (IV-B)
        "epochs": 100,  # IV-B: "target model and loss prediction modules with SGD optimizer for 100 epochs
        "target_optimizer": "SGD",
        "target_lr_by_epoch": {0: 0.1, 79: 0.1, 80: 0.01, 99: 0.01},  # lr 0.1. After 80 epochs [...] 0.01"
        "head_optimizer_class": "SGD",  # IV-B: the same sentence covers the loss prediction modules
        "head_lr_by_epoch": {0: 0.1, 79: 0.1, 80: 0.01, 99: 0.01},
        "momentum": 0.9,  # as CIFAR-10 (IV-B)
        "weight_decay": 5e-4,  # as CIFAR-10 (IV-B)
        "vaal_latent_dim": 64,  # IV-B: "The VAE latent dimension of VAAL is 64"
        "vaal_lr": 5e-4,  # as CIFAR-10 (IV-B)
        "vaal_batch_size": 128,  # as CIFAR-10 (IV-B), official defaults
        "vaal_epochs": 100,
        "vaal_iterations_per_cycle": 127164,  # solver.py: 162770 * 100 // 128
        "runs": 5,  # IV-B: "results on test set of 5 runs"
        "methods": PAPER_METHODS,  # IV-B: "the same comparing algorithms as the experiment on CIFAR-10"
    },
    "mpii": {
        "dataset": "mpii",
        "pool": 22246,  # IV-C: "the training set consists of 22,246 poses
        "test": 2958,  # [...] the test set consists of 2,958 poses"
        "image_size": 256,  # IV-C: "the input size is cropped to 256x256 pixels"
        "model": "pose_res50",  # IV-C: "deconvolutional layers over the last convolution stage in the ResNet-50"
        "subset_size": 5000,  # IV-C: "The subset size [...] is 5000"
        "initial_labeled": 200,  # IV-C: "We begin with 200 labeled instances, [...] add another 200
        "query_size": 200,
        "max_labeled": 1000,  # [...] stop training after 1000 labeled instances"
        "batch_size": 32,  # IV-C: "The batch size is 32"
        "sorter_length": 32,  # IV (intro): "a sequence length of 32 for the MPII dataset"
        "sorter_kind": "sodeep",  # IV (intro): the bidirectional GRU sorter "according to the code of [40]"
        "sorter_epochs": 400,  # IV (intro): "We train the sorter for 400 epochs" (the recipe's target)
        "epochs": 140,  # IV-C: "trained for 140 epochs"
        "target_optimizer": "Adam",  # IV-C: "an Adam optimizer with initial learning rate 1e-3"
        "target_lr_by_epoch": {0: 1e-3},
        "weight_decay": 0.0,  # IV-C via Simple Baselines lib/utils/utils.py get_optimizer: Adam(lr) only
        "head_optimizer_class": "SGD",  # IV-C: loss prediction modules "SGD [...] initial learning rate
        "head_lr_by_epoch": {0: 5e-2, 109: 5e-2, 110: 5e-3, 139: 5e-3},  # of 5e-2, after 110 epochs 5e-3"
        "runs": 5,  # IV-C: "average PCKh@0.5 comparisons of 5 runs"
        "methods": PAPER_METHODS - {"vaal"},  # IV-C: core-set, LL4AL, random and entropy
    },
    "shanghaitech": {
        "dataset": "shanghaitech",
        "pool": 400,  # IV-D: "400 and 316 images for training and testing"
        "test": 316,
        "subset_size": None,  # IV-D: "query from the set directly without using subset"
        "model": "crowd_res50",  # IV-D: ResNet-50 "changed after the third layer with decoder"
        "pretrained": True,  # IV-D: "We choose the pretrained ResNet-50 based target model"
        "epochs": 100,  # IV-D: "trained for 100 epochs with the open source code's default optimizer:
        "target_optimizer": "Adam",  # Adam optimizers with initial learning rate 1e-5"
        "target_lr_by_epoch": {0: 1e-5},
        "weight_decay": 1e-4,  # IV-D via C^3 trainer.py: Adam(lr, weight_decay=1e-4)
        "lr_decay_per_epoch": 0.995,  # IV-D via C^3 config.py LR_DECAY with trainer.py's StepLR(1)
        "crop_fraction": 1.0,  # IV-D via C^3 datasets/SHHB/loading_data.py (RandomCrop commented out)
        "head_optimizer_class": "Adam",  # IV-D: the same sentence covers the loss prediction module
        "head_lr_by_epoch": {0: 1e-5},
        "initial_labeled": 20,  # IV-D: "We begin with 20 labeled instances, [...] add another 20
        "query_size": 20,
        "max_labeled": 100,  # [...] stop training after 100 labeled instances"
        "batch_size": 4,  # IV-D: "The batch size is 4"
        "sorter_length": 4,  # IV (intro): "a sequence length of 4 for ShanghaiTech Part_B"
        "sorter_kind": "sodeep",  # IV (intro): the bidirectional GRU sorter "according to the code of [40]"
        "sorter_epochs": 400,  # IV (intro): "We train the sorter for 400 epochs" (the recipe's target)
        "runs": 5,  # IV-D: "The result is an average over 5 runs"
        "methods": PAPER_METHODS - {"vaal"},  # IV-D: "Same as in the experiment on human pose estimation"
    },
}


def measure(params, quantity, expected):
    """The value of `quantity` in the resolved profile, read from the code that uses it (`expected`
    says at which epochs a learning rate is read)."""
    loader = data.get_dataset(params.dataset)
    if quantity == "pool":
        return loader.pool_size(params)
    if quantity == "test":
        return params.test_size or loader.test_size
    if quantity == "image_size":
        return celeba.IMAGE_SIZE if params.dataset == "celeba" else loader.input_size // params.input_downscale
    if quantity == "cycles":
        return params.n_cycles
    if quantity == "runs":
        return len(params.seeds)
    if quantity == "methods":
        return set(params.strategies)
    if quantity == "pretrained":
        return params.pretrained is not None
    if quantity == "sorter_length":
        # ListwiseRanking ranks exactly the full training batches: the list length is the batch size
        assert params.batch_size in available_sorter_lengths(params.sorter_kind)
        return params.batch_size
    if quantity == "sorter_epochs":  # the training record shipped beside the weights
        record = json.loads(weights_path(params.batch_size, params.sorter_kind).with_suffix(".json").read_text())
        return record["epochs_target"]
    if quantity == "vaal_iterations_per_cycle":
        return iterations_per_cycle(params, loader.pool_size(params))
    if quantity == "leaky_relu_slope":
        head = L2RHead(1, hidden=1)
        with torch.no_grad():
            for layer in (head.fc1, head.fc2):
                layer.weight.fill_(1.0)
                layer.bias.zero_()
            return round(-head([-torch.ones(1, 1, 1, 1)]).item(), 6)
    if quantity in ("target_optimizer", "target_lr_by_epoch"):
        optimizer, scheduler = make_optimizer(torch.nn.Linear(1, 1), params)
        if quantity == "target_optimizer":
            return type(optimizer).__name__
        return lrs_at(optimizer, scheduler.step, params.epochs, expected)
    if quantity in ("head_optimizer_class", "head_lr_by_epoch"):
        strategy = get_strategy("l2r")(params, None, types.SimpleNamespace(feature_channels=[8]), "cpu")
        strategy.begin_cycle()
        if quantity == "head_optimizer_class":
            return type(strategy.optimizer).__name__
        return lrs_at(strategy.optimizer, strategy.end_epoch, params.epochs, expected)
    return getattr(params, quantity)


def lrs_at(optimizer, end_epoch, epochs, wanted: dict) -> dict:
    """{epoch: lr that epoch trains with} at the epochs of `wanted`, stepping as train_cycle does."""
    seen = {}
    for epoch in range(epochs):
        seen[epoch] = optimizer.param_groups[0]["lr"]
        optimizer.step()
        end_epoch()
    return {epoch: pytest.approx(seen[epoch], rel=1e-9) for epoch in wanted}


CASES = [(profile, quantity) for profile, table in PAPER.items() for quantity in table]


@pytest.fixture(scope="module")
def profiles():
    return {name: load_params(ROOT / "params" / f"{name}-paper.yaml") for name in PAPER}


@pytest.mark.parametrize("profile,quantity", CASES, ids=[f"{p}:{q}" for p, q in CASES])
def test_paper_profile_states_the_papers_value(profiles, profile, quantity):
    expected = PAPER[profile][quantity]
    measured = measure(profiles[profile], quantity, expected)
    if quantity == "methods":  # a profile may run more methods (declared in FIDELITY.md), never fewer
        assert expected <= measured
    else:
        assert measured == expected


def test_ablations_paper_profile_is_the_cifar10_paper_profile_with_fig5s_methods():
    # IV-A, Fig. 5: L2R-AL, LL4AL and 'Rank-all-features' at the paper's scale
    cifar = load_params(ROOT / "params" / "cifar10-paper.yaml").to_dict()
    ablations = load_params(ROOT / "params" / "cifar10-ablations-paper.yaml").to_dict()
    differ = {key for key in cifar if cifar[key] != ablations[key]}
    assert differ == {"study", "strategies"}
    assert {"ll4al", "l2r", "l2r-all-features"} <= set(ablations["strategies"])


# ---------------------------------------------------------------- FIDELITY.md

FIDELITY = ROOT / "FIDELITY.md"
PROFILE_FILES = {"cifar10": "cifar10-paper", "ablations": "cifar10-ablations-paper", "celeba": "celeba-paper",
                 "mpii": "mpii-paper", "shanghaitech": "shanghaitech-paper",
                 "cifar10-modern": "cifar10-modern-paper", "celeba-modern": "celeba-modern-paper"}
ALL = ("cifar10", "ablations", "celeba", "mpii", "shanghaitech")  # what a row's `all` covers
INHERITS = {"cifar10-modern": "cifar10", "celeba-modern": "celeba"}  # rows not naming them: their base's
STATUSES = ("same", "declared", "n/a")


def fidelity_rows() -> list[list[str]]:
    """The cells of every row of FIDELITY.md's tables (the paper profiles', then the CPU study profiles', both
    with the same columns; headers and rules left out)."""
    lines = [line for line in FIDELITY.read_text().splitlines() if line.startswith("|")]
    rows = [[cell.strip() for cell in line.strip().strip("|").split("|")] for line in lines]
    assert rows[0][:3] == ["setting", "profiles", "value"], rows[0]
    assert all(len(row) == len(rows[0]) for row in rows), "every row of the table needs all its cells"
    return [row for row in rows if row != rows[0] and not set("".join(row)) <= {"-"}]


def parse_value(cell: str):
    match = re.fullmatch(r"`(.*)`", cell)
    assert match, f"value cell {cell!r} must be one YAML value in backticks"
    value = yaml.safe_load(match.group(1))
    if isinstance(value, str):
        try:
            return float(value)  # YAML 1.1 reads 5e-4 as a string
        except ValueError:
            pass
    return value


def test_fidelity_states_every_setting_of_every_paper_profile_with_its_value():
    rows = fidelity_rows()
    covered = {}
    for setting, profiles, value, *rest in rows:
        assert rest[-1].startswith(STATUSES), f"{setting}: status must start with one of {STATUSES}"
        key = re.fullmatch(r"`(\w+)`", setting)
        if key is None:
            continue  # a setting that is no params key (a constant or a behaviour of the code)
        names = list(ALL) if profiles == "all" else [p.strip() for p in profiles.split(",")]
        for name in names:
            assert name in PROFILE_FILES, f"{setting}: unknown profile {name!r}"
            assert (key.group(1), name) not in covered, f"{setting} for {name} is stated twice"
            covered[key.group(1), name] = parse_value(value)
    for name, stem in PROFILE_FILES.items():
        resolved = load_params(ROOT / "params" / f"{stem}.yaml").to_dict()
        for key, actual in resolved.items():
            row = (key, name) if (key, name) in covered else (key, INHERITS.get(name))
            assert row in covered, f"FIDELITY.md has no row for {key} in the {name} paper profile"
            stated = covered[row]
            assert stated == (pytest.approx(actual) if isinstance(actual, float) else actual), \
                f"FIDELITY.md says {key} = {stated!r} for {name}, {stem}.yaml resolves to {actual!r}"
    assert {key for key, _ in covered} == set(Params.__dataclass_fields__)


def test_fidelity_covers_every_paper_profile():
    assert {path.stem for path in (ROOT / "params").glob("*-paper.yaml")} == set(PROFILE_FILES.values())


def test_every_row_fidelity_points_to_exists():
    """A status's `see "x"` / `row "x"` / `rows "x" and "y"` names a row's setting."""
    settings = {row[0].strip("`") for row in fidelity_rows()}
    text = FIDELITY.read_text()
    pointed = [name for match in re.finditer(r'\b(?:rows?|see) "([^"]+)"(?: and "([^"]+)")?', text)
               for name in match.groups() if name]
    assert pointed and not [name for name in pointed if name not in settings]


def test_fidelity_says_how_far_each_shipped_sorter_was_trained():
    """The sorter row states each shipped sodeep sorter's epochs as its training record has them, and
    calls itself `declared` while any of them is short of the recipe's epochs."""
    (row,) = [row for row in fidelity_rows() if row[0].startswith("sorter architecture")]
    records = {n: json.loads(weights_path(n, "sodeep").with_suffix(".json").read_text()) for n in (64, 32, 4)}
    stated = " / ".join(f"{records[n]['epochs_reached']:.2f}" for n in (64, 32, 4))
    assert f"{stated} of the recipe's 400 epochs" in row[-1]
    if any(r["epochs_reached"] < r["epochs_target"] for r in records.values()):
        assert row[-1].startswith("declared")
