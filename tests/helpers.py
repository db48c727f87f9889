"""What several test files share that is not a fixture (the fixtures are in conftest.py): the project root,
generated data sets, independent reference computations. Tests import it as `helpers` (tests/ is on sys.path:
rootdir conftest, prepend import mode, no __init__.py under tests/)."""
import copy
import json
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import torch
from PIL import Image
from torch import nn

from l2ral_lib import loop
from l2ral_lib.data import StudyData
from l2ral_lib.models import ModelOutput
from l2ral_lib.sorter import KINDS
from l2ral_lib.strategies import QueryContext, get_strategy
from l2ral_lib.tasks import Classification

ROOT = Path(__file__).resolve().parents[1]


# ---------------------------------------------------------------- data/test_celeba.py, e2e/test_notebooks.py
ATTRIBUTES = ("5_o_Clock_Shadow Arched_Eyebrows Attractive Bags_Under_Eyes Bald Bangs Big_Lips Big_Nose Black_Hair"
              " Blond_Hair Blurry Brown_Hair Bushy_Eyebrows Chubby Double_Chin Eyeglasses Goatee Gray_Hair"
              " Heavy_Makeup High_Cheekbones Male Mouth_Slightly_Open Mustache Narrow_Eyes No_Beard Oval_Face"
              " Pale_Skin Pointy_Nose Receding_Hairline Rosy_Cheeks Sideburns Smiling Straight_Hair Wavy_Hair"
              " Wearing_Earrings Wearing_Hat Wearing_Lipstick Wearing_Necklace Wearing_Necktie Young").split()
MALE = ATTRIBUTES.index("Male")


def make_celeba(root: Path, partitions=(0,) * 30 + (1,) * 4 + (2,) * 8, absent=(3, 33), size=(18, 22), seed=0):
    """<root>/celeba in the official format: images i+1 with partition partitions[i]; `absent` ones are
    listed in both files but not written (as in a partial copy). Returns {name: male 0/1}."""
    folder = root / "celeba"
    (folder / "img_align_celeba").mkdir(parents=True, exist_ok=True)
    generator = torch.Generator().manual_seed(seed)
    attr_lines = [str(len(partitions)), " ".join(ATTRIBUTES)]
    part_lines, male = [], {}
    for i, part in enumerate(partitions):
        name = f"{i + 1:06d}.jpg"
        values = (torch.randint(0, 2, (len(ATTRIBUTES),), generator=generator) * 2 - 1).tolist()
        male[name] = int(values[MALE] == 1)
        attr_lines.append(name + "".join(f" {v:2d}" for v in values))
        part_lines.append(f"{name} {part}")
        if i not in absent:  # male faces brighter, so a tiny model has something to learn
            base = 60 + 120 * male[name]
            pixels = (torch.rand(size[1], size[0], 3, generator=generator) * 60 + base).to(torch.uint8)
            Image.fromarray(pixels.numpy()).save(folder / "img_align_celeba" / name, quality=90)
    (folder / "list_attr_celeba.txt").write_text("\n".join(attr_lines) + "\n")
    (folder / "list_eval_partition.txt").write_text("\n".join(part_lines) + "\n")
    return male


# ---------------------------------------------------------------- strategies: test_coreset.py
def brute_force_kcenter(pool, labeled, budget):
    picks = []
    for _ in range(budget):
        centres = torch.cat([labeled, pool[picks]]) if picks else labeled
        distance = torch.cdist(pool.double(), centres.double()).min(1).values
        distance[picks] = -1
        picks.append(int(distance.argmax()))
    return picks


# ---------------------------------------------------------------- test_checks.py, test_config.py: the four modern methods
MODERN = ["margin", "least-confidence", "bald", "badge"]


# ---------------------------------------------------------------- strategies: test_margin.py, test_badge.py (outputs given)
class TableModel(nn.Module):
    """Stand-in model: the input is a batch of pool indices, the output row i of given tables."""

    def __init__(self, logits, embedding):
        super().__init__()
        self.logits, self.embedding = torch.as_tensor(logits).float(), torch.as_tensor(embedding).float()

    def forward(self, index):
        index = index.long()
        return ModelOutput(self.logits[index], [], self.embedding[index])


class TableData(StudyData):
    def __init__(self, num_classes):
        self.num_classes = num_classes

    def train_batch(self, index, augment=True):
        return index.float(), None


def table_context(logits, embedding, subset, seed=0):
    """A query context over pool items whose outputs are given; batches of 4 exercise the batching."""
    return QueryContext(model=TableModel(logits, embedding), data=TableData(logits.shape[1]), task=Classification(),
                        params=SimpleNamespace(eval_batch_size=4, amp=False, channels_last=False), labeled=torch.tensor([0]),
                        subset=torch.as_tensor(subset), seed=seed)


def query_table(name, ctx, budget, **params):
    return get_strategy(name)(SimpleNamespace(**params), Classification(), ctx.model, "cpu").query(ctx, budget).tolist()


def softmax(logits):
    e = np.exp(logits - logits.max(1, keepdims=True))
    return e / e.sum(1, keepdims=True)


# ---------------------------------------------------------------- strategies: queries after cycle 0 (the `trained` fixture)
BUDGET = 10


def query(trained, method, data=None):
    study, labeled, subset, built = trained
    model, strategy = (copy.deepcopy(part) for part in built[method])
    ctx = QueryContext(model=model, data=data or study.data, task=study.task, params=study.params, labeled=labeled,
                       subset=subset)
    torch.manual_seed(1)  # the query's own draws (VAAL's training) equal in every call
    return strategy.query(ctx, BUDGET).tolist()


def forward(trained, method):
    """The trained model of `method` on the subset, eval mode, no augmentation: ModelOutput."""
    study, _, subset, built = trained
    model = built[method][0].eval()
    with torch.no_grad():
        return model(study.data.train_batch(subset, augment=False)[0])


def top(scores: np.ndarray) -> list[int]:
    """Positions of the BUDGET highest scores, highest first (no ties in these float scores)."""
    assert len(np.unique(scores)) == len(scores)
    return np.argsort(-scores, kind="stable")[:BUDGET].tolist()


def scrambled_labels(study, labeled):
    """A shallow copy of the study's data whose unlabeled items all carry another class."""
    scrambled = copy.copy(study.data)
    unlabeled = torch.ones(study.data.n_pool, dtype=torch.bool)
    unlabeled[labeled] = False
    positions = torch.nonzero(unlabeled).squeeze(1)
    labels = study.data.train_labels.clone()
    generator = torch.Generator().manual_seed(0)
    labels[positions] = (labels[positions] + 1 + torch.randint(0, 9, (len(positions),), generator=generator)) % 10
    assert (labels[positions] != study.data.train_labels[positions]).all()  # every one changed
    scrambled.train_labels = labels
    return scrambled


# ---------------------------------------------------------------- sorter: the shipped lengths
SHIPPED = [4, 32, 64]
SHIPPED_PAIRS = [(kind, n) for kind in KINDS for n in SHIPPED]


# ---------------------------------------------------------------- report: test_tables.py, test_figures.py
def table():
    rows = []
    for method, offset in (("random", 0.0), ("l2r", 2.0)):
        for seed in (0, 1):
            for cycle, n in enumerate((100, 200, 300)):
                rows.append(dict(dataset="cifar10", method=method, seed=seed, cycle=cycle, n_labeled=n,
                                 metric="accuracy", value=50 + 10 * cycle + offset + seed))
                rows.append(dict(dataset="cifar10", method=method, seed=seed, cycle=cycle, n_labeled=n,
                                 metric="time_train_s", value=1.0))
    return pd.DataFrame(rows)


# ---------------------------------------------------------------- report: test_summary.py, its conftest
def write_study(outputs, name, metric, gains, seeds=(0, 1, 2), promised_seeds=None, dataset=None, cycles=3):
    """A study folder as `make <experiment>` leaves it: results.csv (+ timing rows) and params.json."""
    rng = np.random.default_rng(len(name))
    rows = []
    for method, gain in gains.items():
        for seed in seeds:
            for cycle in range(cycles):
                value = 50 + 5 * cycle + gain * cycle + rng.normal(0, 0.3) + 3 * seed
                for m, v in ((metric, value), ("time_train_s", 1.0)):
                    rows.append(dict(dataset=dataset or name.split("-")[0], method=method, seed=seed, cycle=cycle,
                                     n_labeled=100 * (cycle + 1), metric=m, value=v))
    folder = outputs / name
    folder.mkdir(parents=True)
    pd.DataFrame(rows).to_csv(folder / "results.csv", index=False)
    params = {"study": name, "dataset": dataset or name.split("-")[0], "strategies": list(gains),
              "seeds": list(promised_seeds or seeds), "initial_labeled": 100, "query_size": 100,
              "max_labeled": 100 * cycles}
    (folder / "params.json").write_text(json.dumps(params))
    return folder


# ---------------------------------------------------------------- test_loop.py, test_provenance.py
def interrupt_at_query(monkeypatch, n: int):
    """Make the n-th query of this process raise, as a kill after the (n-1)-th cycle was saved."""
    calls, original = {"n": 0}, loop.Study.query

    def crash(self, *args, **kwargs):
        calls["n"] += 1
        if calls["n"] == n:
            raise KeyboardInterrupt
        return original(self, *args, **kwargs)

    monkeypatch.setattr(loop.Study, "query", crash)
    return lambda: monkeypatch.setattr(loop.Study, "query", original)
