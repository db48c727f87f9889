"""Study parameters: the schema (`Params`), the YAML profile chain, and the checks of keys and their arithmetic.

Every key a study reads is declared in `Params` with its type, default and a comment saying why.
An unknown key, a wrong type or an impossible size is a `ParamsError` naming the key, raised before
any data is loaded or model built (the CLI turns it into one line and exit status 2).
"""
from __future__ import annotations

import dataclasses
import sys
import typing
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from .errors import ParamsError
from .registry import did_you_mean


@dataclass(frozen=True)
class Cluster:
    """Where `run --executor slurm` runs a study: one Slurm array task per unfinished (method, seed) slice.
    No key changes a result (outputs.IGNORED_PARAMS): a study may move between clusters and settings."""

    partition: typing.Optional[str] = None  # Slurm partition (None: the cluster's default)
    account: typing.Optional[str] = None  # account charged (None: your default account)
    qos: typing.Optional[str] = None  # quality of service (None: the partition's default)
    gpus_per_task: int = 1  # GPUs per slice: the paper profiles are GPU jobs; the CPU profiles (smoke, ci) set 0
    cpus_per_task: int = 4  # CPU cores per slice (the data lives on the GPU: a few cores suffice)
    mem_gb: typing.Optional[float] = None  # memory per slice in GB (None: the partition's default)
    time_min: int = 720  # time limit of a task in minutes; a task stopped at its limit is requeued and resumes
    max_timeouts: int = 10  # how often a task may be requeued after reaching its time limit (preemptions not counted)
    array_parallelism: typing.Optional[int] = None  # slices running at once (None: as many as Slurm grants)
    setup: typing.List[str] = field(default_factory=list)  # shell lines run before each task, e.g. "module load cuda/12.4"
    sbatch_options: typing.Dict[str, typing.Union[str, int, float, bool]] = field(default_factory=dict)  # further sbatch options, e.g. {constraint: a100, mail-type: END}; true: a bare flag


@dataclass(frozen=True)
class Params:
    # --- what is studied
    study: str = "cifar10"  # the study's name: its output folder by default (outputs/<study>) and the label of its log lines
    dataset: str = "cifar10"  # registered dataset (l2ral_lib.data.list_datasets())
    data_root: typing.Optional[str] = None  # None: $L2RAL_DATA, else data/ in the project; image-folder, image-csv: the dataset's own folder
    download: bool = False  # allow the official download when the data is missing (never in tests)
    reuse_from: typing.Optional[str] = None  # a sibling study (same params but study, seeds, strategies): copy its finished slices
    pool_size: typing.Optional[int] = None  # use a fixed random part of the training set as the pool (None: all)
    test_size: typing.Optional[int] = None  # evaluate on a fixed random part of the test set (None: all)
    input_downscale: int = 1  # divide the dataset's input resolution (CPU profiles of the regression tasks); 1 = paper
    model: str = "resnet18"  # registered target model (l2ral_lib.models.list_models()), torchvision/<name> or your <module>:<factory> (docs/extending.md)
    model_width: int = 64  # channels of the first block (64 = the paper's ResNet-18)
    dropout: float = 0.0  # p of a dropout before the classifier's last FC, every method (0: none = the paper's)
    pretrained: typing.Optional[str] = None  # path to backbone weights (regression models) or a torchvision/<name> state dict; None: random init
    strategies: typing.List[str] = field(default_factory=lambda: ["random", "entropy", "coreset", "vaal", "ll4al", "l2r"])  # query strategies compared (`python -m l2ral_lib list`)
    seeds: typing.List[int] = field(default_factory=lambda: [0, 1, 2, 3, 4])  # paper: mean of 5 runs
    strategy_seeds: typing.Dict[str, int] = field(default_factory=dict)  # a strategy named here runs on at most the first N of `seeds` (a seed plan: each comparison gets the seeds its power analysis asks, experiments/seed_plan.py); the others run on all
    # --- the active-learning budget
    initial_labeled: int = 1000  # random labeled set of cycle 0, shared by every method of a seed
    query_size: int = 1000  # samples labeled per cycle
    max_labeled: int = 10000  # labeled-set size at the last cycle
    subset_size: typing.Optional[int] = 10000  # random unlabeled subset scored per query (None: whole pool)
    continue_model: bool = True  # keep training the same model across cycles (the LL4AL reference code does)
    # --- training the target model
    epochs: int = 150  # training epochs of every cycle
    min_epoch_samples: typing.Optional[int] = None  # an epoch repeats the labeled set (fresh orders) until it has this many samples; None: one pass (the paper's). CPU profiles with tiny labeled sets: the first cycles get as many steps as the last
    batch_size: int = 64  # also the ranking-loss list length: must match a shipped sorter length
    optimizer: str = "sgd"  # sgd | adam
    lr: float = 0.1  # target model's learning rate
    lr_milestones: typing.List[int] = field(default_factory=lambda: [120])  # epochs where lr *= lr_gamma
    lr_gamma: float = 0.1  # factor applied at each lr milestone
    lr_decay_per_epoch: float = 1.0  # lr *= this after every epoch, on top of the milestones (C^3 ShanghaiTech: 0.995)
    momentum: float = 0.9  # SGD momentum of the target model
    weight_decay: float = 5e-4  # of the target model's optimizer
    eval_batch_size: int = 512  # inference batch for test, scoring and features
    augment: bool = True  # dataset's training augmentation (CIFAR-10: random crop from zero-padded + flip)
    crop_padding: int = 2  # image classification: zero padding before the random crop (paper IV-A: 32 from 36x36)
    crop_fraction: float = 1.0  # crowd counting: side fraction of the random training crop (1: whole image + flip)
    # --- your own image data (datasets image-folder and image-csv; docs/extending.md)
    image_size: int = 32  # every image resized (bilinear, aspect ratio not kept) to image_size x image_size pixels
    data_loading: str = "auto"  # device: decoded once, held on the device | stream: read from disk through a DataLoader, batch by batch | auto: stream above device_data_gib
    device_data_gib: float = 2.0  # data_loading auto: decoded pool + test images above this many GiB (3 x image_size^2 bytes each) stream
    loader_workers: int = 2  # DataLoader processes decoding images (0: in the main process)
    # --- loss-prediction heads (l2r, ll4al and ablations)
    head_optimizer: str = "adam"  # adam | sgd (the paper trains both heads with Adam 1e-3 on CIFAR-10)
    head_lr: float = 1e-3  # learning rate of the loss-prediction head
    head_lr_milestones: typing.List[int] = field(default_factory=list)  # MPII: SGD 5e-2 -> 5e-3 at 110
    head_momentum: float = 0.9  # used by head_optimizer sgd
    head_hidden: int = 128  # width of the L2R head's hidden FC layer
    sorter_kind: str = "sodeep"  # shipped sorter turning predicted losses into ranks: sodeep (the paper's) | gru
    rank_loss: typing.Optional[str] = None  # head objective of every loss head: sodeep | margin | mse | softrank | diffsort (losses.py); null: each method's own
    ll4al_margin: float = 1.0  # LL4AL pair margin
    ll4al_weight: float = 1.0  # LL4AL lambda: weight of the margin loss added to the target loss
    ll4al_detach_epoch: int = 120  # from this epoch on LossNet's input is detached (LL4AL: after 120 epochs)
    ll4al_early_detach_epoch: typing.Optional[int] = None  # the ll4al-early-detach sensitivity variant's detach epoch (no method of the paper)
    # --- VAAL
    vaal_latent_dim: int = 32  # paper: 32 for CIFAR-10, 64 for CelebA
    vaal_width: int = 128  # channels of the VAE's first conv (128 in the official code)
    vaal_lr: float = 5e-4  # Adam lr of the VAE and the discriminator (official code)
    vaal_epochs: int = 100  # official train_epochs: iterations per cycle = pool size x vaal_epochs // vaal_batch_size
    vaal_batch_size: int = 128  # official batch_size default (sinhasam/vaal arguments.py)
    vaal_iterations: typing.Optional[int] = None  # set: this many iterations per cycle instead (CPU profiles)
    vaal_adversary_weight: float = 1.0  # weight of the adversarial term in the VAE loss (official: 1)
    vaal_beta: float = 1.0  # weight of the KL term
    vaal_image_size: typing.Optional[int] = None  # resize the VAE's input (None: the dataset's size)
    # --- BALD
    bald_passes: int = 10  # T stochastic forward passes through the dropout layer (BADGE's reference: 10)
    # --- speed (precision.py: what runs where, recorded in provenance)
    amp: bool = False  # bf16 autocast of the target model where native: CUDA, CPUs with avx512_bf16/amx_bf16/bf16
    channels_last: bool = False  # memory layout: CUDA, and CPU together with bf16 (float32 CPU stays contiguous)
    entropy_spearman: bool = False  # also record every method's test Spearman of its own entropy with its true losses ("spearman_entropy", Fig. 5's free ranker); off in the paper profiles, which the paper did not measure
    compile: typing.Union[bool, str] = False  # torch.compile each training step (target, loss, head; VAAL's VAE step): true = fused kernels; reduce-overhead = and on CUDA replayed as CUDA graphs (training.py)
    deterministic: bool = False  # CUDA: cuDNN's deterministic kernels, no cudnn.benchmark, torch.use_deterministic_algorithms: a rerun on the same GPU and software repeats the slice to the last digit (slower; CPU runs repeat anyway)
    # --- cluster (`run --executor slurm`, `make <experiment> EXECUTOR=slurm`; docs/running.md "On a cluster")
    cluster: Cluster = field(default_factory=Cluster)  # the keys cluster.* below

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @property
    def n_cycles(self) -> int:
        return cycle_count(self.initial_labeled, self.max_labeled, self.query_size)

    def labeled_at(self, cycle: int) -> int:
        return self.initial_labeled + cycle * self.query_size

    def seeds_of(self, strategy: str) -> list[int]:
        return planned_seeds(self.seeds, self.strategy_seeds, strategy)


def planned_seeds(seeds: list[int], strategy_seeds: dict[str, int], strategy: str) -> list[int]:
    """The seeds `strategy` runs on: the first `strategy_seeds[strategy]` of `seeds`, else all of them (what
    `Params.seeds_of` and a report reading params.json plan)."""
    return list(seeds[:strategy_seeds.get(strategy, len(seeds))])


def cycle_count(initial_labeled: int, max_labeled: int, query_size: int) -> int:
    """Points on the learning curve: the initial set plus one per query (what `Params.n_cycles` and a
    report reading params.json count)."""
    return (max_labeled - initial_labeled) // query_size + 1


_FIELDS = {f.name: f for f in dataclasses.fields(Params)}
_HINTS = typing.get_type_hints(Params)

# Keys that were renamed: old name -> new name. "experiment" named the study folder, while an experiment is
# one of the paper's (a notebook: cifar10, mpii, ...), of which a study is one run at one profile.
RENAMED_KEYS = {"experiment": "study"}
_WARNED: set[str] = set()  # the old names already warned about in this process


def renamed(raw: dict, where: str = "") -> dict:
    """`raw` with the old names of RENAMED_KEYS replaced by the new ones. Given `where` (a params file, the
    overrides), a one-line warning on stderr, once per old name and process; without it silently: a
    params.json recorded before the rename is a record, not the user's to edit."""
    out = dict(raw)
    for old, new in RENAMED_KEYS.items():
        if old not in out:
            continue
        if new in out:
            raise ParamsError(old, f"renamed to '{new}', which is given too{f' ({where})' if where else ''}; keep '{new}' only")
        if where and old not in _WARNED:
            _WARNED.add(old)
            print(f"warning: params key '{old}' is deprecated and read as '{new}' ({where}); rename it", file=sys.stderr)
        out[new] = out.pop(old)
    return out


def as_recorded(record: dict) -> dict:
    """A params.json record read today: renamed keys under their new names, a key the record lacks at its
    default (a key added to Params after the study ran has the default that keeps what the code did
    before it existed), a key since removed kept as recorded."""
    return {**Params().to_dict(), **renamed(record)}


def _check_type(key: str, value, hint):
    """Coerce YAML scalars that are unambiguous (int for float), refuse anything else."""
    if dataclasses.is_dataclass(hint):
        return _section(key, value, hint)
    origin = typing.get_origin(hint)
    if origin is typing.Union:  # Optional[X], or one of several scalar types
        options = [a for a in typing.get_args(hint) if a is not type(None)]
        if value is None and len(options) < len(typing.get_args(hint)):
            return None
        for option in options:
            try:
                return _check_type(key, value, option)
            except ParamsError:
                if len(options) == 1:
                    raise
        raise ParamsError(key, f"expected {_type_name(hint)}, got {type(value).__name__} {value!r}")
    if origin in (list, typing.List):
        if not isinstance(value, (list, tuple)):
            raise ParamsError(key, f"expected a list, got {value!r}")
        (inner,) = typing.get_args(hint)
        return [_check_type(f"{key}[{i}]", v, inner) for i, v in enumerate(value)]
    if origin in (dict, typing.Dict):
        if not isinstance(value, dict):
            raise ParamsError(key, f"expected a mapping of name: value, got {value!r}")
        _, inner = typing.get_args(hint)
        return {str(k): _check_type(f"{key}.{k}", v, inner) for k, v in value.items()}
    if hint is float and isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if hint is float and isinstance(value, str):
        try:  # YAML 1.1 reads "5e-4" as a string
            return float(value)
        except ValueError:
            pass
    if not isinstance(value, hint) or (hint is int and isinstance(value, bool)):
        raise ParamsError(key, f"expected {hint.__name__}, got {type(value).__name__} {value!r}")
    return value


def _section(name: str, raw, cls):
    """A mapping of keys of the dataclass `cls` (the `cluster:` section), each key checked as above;
    an instance (a Params built in code) is taken as it is."""
    if isinstance(raw, cls):
        return raw
    if not isinstance(raw, dict):
        raise ParamsError(name, f"expected a mapping of key: value, got {raw!r}")
    fields, hints = [f.name for f in dataclasses.fields(cls)], typing.get_type_hints(cls)
    values = {}
    for key, value in raw.items():
        if key not in fields:
            raise ParamsError(f"{name}.{key}", f"unknown key{did_you_mean(key, fields)}; known: {', '.join(fields)}")
        values[key] = _check_type(f"{name}.{key}", value, hints[key])
    return cls(**values)


def parse_params(raw: dict) -> Params:
    """A plain dict (YAML content or papermill parameters) as `Params`, its keys, types and arithmetic
    checked (`checks.from_dict` adds the checks against the registries). Renamed keys are read under
    their new names."""
    values = {}
    for key, value in renamed(raw).items():
        if key not in _FIELDS:
            raise ParamsError(key, f"unknown key{did_you_mean(key, _FIELDS)}; see l2ral_lib/config.py for the known keys")
        values[key] = _check_type(key, value, _HINTS[key])
    params = Params(**values)
    validate(params)
    return params


def _read_yaml(path: Path) -> dict:
    if not path.is_file():
        raise ParamsError("params", f"file not found: {path}")
    try:
        content = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as error:
        raise ParamsError("params", f"{path} is not valid YAML: {str(error).splitlines()[0]}") from None
    if not isinstance(content, dict):
        raise ParamsError("params", f"{path} must hold a mapping of key: value")
    return content


def resolve_yaml(path: str | Path, _seen: tuple = ()) -> dict:
    """Read a params file, following `base:` (a path relative to the file) so that the smoke and ci
    profiles state only what they change from the paper profile."""
    path = Path(path).resolve()
    if path in _seen:
        raise ParamsError("base", f"cycle in profile chain at {path}")
    content = renamed(_read_yaml(path), str(path))  # before merging: a profile's old name overrides its base's new one
    base = content.pop("base", None)
    if base is None:
        return content
    if not isinstance(base, str):
        raise ParamsError("base", f"expected a file name, got {base!r}")
    return {**resolve_yaml(path.parent / base, _seen + (path,)), **content}


def read_params(path: str | Path, overrides: dict | None = None) -> Params:
    """Read and resolve a params file and check it as `parse_params` does; `overrides` win over the file
    (notebook use, `--set`); `checks.load_params` adds the checks against the registries.
    A dotted key sets one key of a section (`cluster.partition`), keeping the section's other keys."""
    raw = resolve_yaml(path)
    for key, value in renamed(overrides or {}, "--set").items():
        section, dot, sub = key.partition(".")
        if not dot:
            raw[key] = value
            continue
        current = raw.get(section) or {}
        if not isinstance(current, dict):
            raise ParamsError(section, f"expected a mapping of key: value, got {current!r}")
        raw[section] = {**current, sub: value}
    return parse_params(raw)


def _positive(params, *keys: str, allow_zero: bool = False, section: str = ""):
    for key in keys:
        value = getattr(params, key)
        if value is None:
            continue
        if value < 0 or (value == 0 and not allow_zero):
            raise ParamsError(f"{section}.{key}" if section else key, f"must be {'>= 0' if allow_zero else '> 0'}, got {value}")


# sbatch options the `cluster:` section sets under its own names, and those submitit sets (logs, array,
# requeue signal): in cluster.sbatch_options they would contradict or break the submission
_OWN_SBATCH_OPTIONS = {"partition": "partition", "account": "account", "qos": "qos", "gpus-per-task": "gpus_per_task",
                       "cpus-per-task": "cpus_per_task", "mem": "mem_gb", "time": "time_min"}
_SUBMITIT_SBATCH_OPTIONS = {"array", "output", "error", "open-mode", "signal", "job-name"}


def validate_cluster(cluster: Cluster) -> None:
    _positive(cluster, "cpus_per_task", "mem_gb", "time_min", "array_parallelism", section="cluster")
    _positive(cluster, "gpus_per_task", "max_timeouts", allow_zero=True, section="cluster")
    for option in cluster.sbatch_options:
        flag = option.lstrip("-").replace("_", "-")
        if flag in _OWN_SBATCH_OPTIONS:
            raise ParamsError(f"cluster.sbatch_options.{option}", f"set cluster.{_OWN_SBATCH_OPTIONS[flag]} instead")
        if flag in _SUBMITIT_SBATCH_OPTIONS:
            raise ParamsError(f"cluster.sbatch_options.{option}", "submitit sets this option (logs, array, requeue"
                                                                   " signal); leave it out")


def validate(params: Params) -> None:
    """Checks of single keys and of the arithmetic between keys; the checks against the registries (the
    names of dataset, model, strategies and objective, each strategy's needs) are checks.validate_names."""
    _positive(params, "initial_labeled", "query_size", "max_labeled", "subset_size", "epochs", "batch_size",
              "lr", "eval_batch_size", "head_lr", "head_hidden", "model_width", "vaal_latent_dim",
              "vaal_width", "vaal_lr", "pool_size", "test_size", "vaal_image_size", "input_downscale",
              "vaal_batch_size", "vaal_iterations", "crop_fraction", "lr_decay_per_epoch",
              "bald_passes", "min_epoch_samples", "image_size", "device_data_gib")
    _positive(params, "weight_decay", "momentum", "lr_gamma", "vaal_epochs", "ll4al_margin", "ll4al_weight",
              "ll4al_detach_epoch", "ll4al_early_detach_epoch", "vaal_beta", "vaal_adversary_weight", "head_momentum",
              "crop_padding", "loader_workers", allow_zero=True)
    for key in ("crop_fraction", "lr_decay_per_epoch"):
        if getattr(params, key) > 1:
            raise ParamsError(key, f"must be at most 1, got {getattr(params, key)}")
    if not 0 <= params.dropout < 1:
        raise ParamsError("dropout", f"must lie in [0, 1), got {params.dropout}")
    if not params.strategies:
        raise ParamsError("strategies", "name at least one strategy")
    if len(set(params.strategies)) != len(params.strategies):
        raise ParamsError("strategies", "a strategy is listed twice")
    if not params.seeds or len(set(params.seeds)) != len(params.seeds):
        raise ParamsError("seeds", "give at least one seed, each once")
    for strategy, n in params.strategy_seeds.items():
        if strategy not in params.strategies:
            raise ParamsError(f"strategy_seeds.{strategy}", f"'{strategy}' is not among the strategies"
                                                            f" {params.strategies}; remove it or add the strategy")
        if n < 1:
            raise ParamsError(f"strategy_seeds.{strategy}", f"must be at least 1 (the first N seeds), got {n}")
    for key, allowed in (("optimizer", ("sgd", "adam")), ("head_optimizer", ("sgd", "adam")),
                         ("data_loading", ("auto", "device", "stream"))):
        if getattr(params, key) not in allowed:
            raise ParamsError(key, f"must be one of {', '.join(allowed)}, got '{getattr(params, key)}'")
    if isinstance(params.compile, str) and params.compile != "reduce-overhead":
        raise ParamsError("compile", f"must be false, true or reduce-overhead, got '{params.compile}'")
    if params.max_labeled < params.initial_labeled:
        raise ParamsError("max_labeled", f"({params.max_labeled}) is smaller than initial_labeled ({params.initial_labeled})")
    if (params.max_labeled - params.initial_labeled) % params.query_size:
        raise ParamsError("max_labeled", f"max_labeled - initial_labeled ({params.max_labeled - params.initial_labeled})"
                                         f" must be a multiple of query_size ({params.query_size})")
    if params.subset_size is not None and params.subset_size < params.query_size:
        raise ParamsError("subset_size", f"({params.subset_size}) is smaller than query_size ({params.query_size}):"
                                         " the query could not be filled")
    # the registered models' widths (torchvision/<name> and <module>:<factory> models have none)
    if params.pretrained and params.model_width != 64 and "/" not in params.model and ":" not in params.model:
        raise ParamsError("model_width", f"({params.model_width}) must be 64 for the ImageNet weights in `pretrained`;"
                                         " set pretrained: null for a narrower model")
    for key in ("lr_milestones", "head_lr_milestones"):
        bad = [m for m in getattr(params, key) if not 0 < m <= params.epochs]
        if bad:
            raise ParamsError(key, f"milestones {bad} lie outside 1..epochs ({params.epochs})")
    validate_cluster(params.cluster)


def _declared(cls) -> dict[str, tuple[str, str]]:
    """key -> (section, meaning) of a dataclass's fields: the comment beside each declaration, and the
    section comment ("# --- ...") above it."""
    import inspect  # noqa: PLC0415
    import re  # noqa: PLC0415

    names, meanings, section = {f.name for f in dataclasses.fields(cls)}, {}, ""
    for line in inspect.getsource(cls).splitlines():
        heading = re.match(r"\s*# --- (.*)", line)
        if heading:
            section = heading.group(1)
        declared = re.match(r"\s{4}(\w+): [^=]+=.*?(?:#\s*(.*))?$", line)
        if declared and declared.group(1) in names:
            meanings[declared.group(1)] = (section, declared.group(2) or "")
    return meanings


def describe_keys() -> list[dict]:
    """Every params key with its type, default and meaning (the comment beside its declaration in
    `Params`, so the documentation cannot drift from the code), in declaration order; section
    comments ("# --- ...") become the `section` of the keys below them. A section key (`cluster`)
    is listed as its keys (`cluster.partition`, ...), with the comments of its dataclass."""
    meanings, defaults, keys = _declared(Params), Params().to_dict(), []
    for name in _FIELDS:
        section, hint = meanings[name][0], _HINTS[name]
        if dataclasses.is_dataclass(hint):
            inner, hints = _declared(hint), typing.get_type_hints(hint)
            keys += [{"key": f"{name}.{key}", "type": _type_name(hints[key]), "default": defaults[name][key],
                      "section": section, "meaning": inner[key][1]} for key in hints]
        else:
            keys.append({"key": name, "type": _type_name(hint), "default": defaults[name], "section": section,
                         "meaning": meanings[name][1]})
    return keys


def _type_name(hint) -> str:
    args = [a for a in typing.get_args(hint) if a is not type(None)]
    if typing.get_origin(hint) is typing.Union:
        return " or ".join(map(_type_name, args)) + (" or null" if len(args) < len(typing.get_args(hint)) else "")
    if typing.get_origin(hint) in (list, typing.List):
        return f"list of {_type_name(args[0])}"
    if typing.get_origin(hint) in (dict, typing.Dict):
        return f"mapping of {_type_name(args[0])} to {_type_name(args[1])}"
    return hint.__name__
