"""BALD (strategies/bald.py): mutual information by hand, dropout sampled and the model left as found."""
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from torch.nn import functional as F

from l2ral_lib.data.base import ImageClassificationData
from l2ral_lib.models.resnet import SmallImageResNet
from l2ral_lib.strategies import QueryContext, get_strategy
from l2ral_lib.strategies.bald import mutual_information
from l2ral_lib.tasks import Classification


def test_mutual_information_worked_example():
    # T = 2 passes, 2 classes, nats. Item 0: the passes disagree completely, (1, 0) and (0, 1):
    # H[mean] = H(0.5, 0.5) = ln 2 = 0.693147, mean H = 0. Item 1: both passes (0.5, 0.5): ln 2 - ln 2 = 0.
    # Item 2: (0.9, 0.1) and (0.5, 0.5): H[mean] = H(0.7, 0.3) = 0.610864; mean H = (H(0.9, 0.1) + ln 2) / 2
    # = (0.325083 + 0.693147) / 2 = 0.509115; I = 0.101749.
    probs = torch.tensor([[[1.0, 0.0], [0.5, 0.5], [0.9, 0.1]],
                          [[0.0, 1.0], [0.5, 0.5], [0.5, 0.5]]])
    assert mutual_information(probs).tolist() == pytest.approx([0.693147, 0.0, 0.101749], abs=2e-6)


def image_context(model, n=24, seed=0):
    generator = torch.Generator().manual_seed(seed)
    images = torch.randint(0, 256, (n + 4, 3, 8, 8), dtype=torch.uint8, generator=generator)
    labels = torch.randint(0, 3, (n + 4,), generator=generator)
    data = ImageClassificationData("tiny", images, labels, images[:4], labels[:4], 3, "cpu")
    return QueryContext(model=model, data=data, task=Classification(), params=SimpleNamespace(eval_batch_size=10, amp=False, channels_last=False),
                        labeled=torch.arange(4), subset=torch.arange(4, n + 4))


def test_bald_samples_only_dropout_and_leaves_the_model_as_found():
    torch.manual_seed(0)
    model = SmallImageResNet(num_classes=3, width=4, dropout=0.5)
    with torch.no_grad():
        model.linear.weight.mul_(30)  # confident logits: a dropped feature changes the prediction visibly
    model.train()  # batch-norm in train mode would update its statistics on every pass
    model.layers[0].eval()  # a mixed state must come back as it was, too
    ctx = image_context(model)
    modes = {name: m.training for name, m in model.named_modules()}
    state = {k: v.clone() for k, v in model.state_dict().items()}
    bald = get_strategy("bald")(SimpleNamespace(bald_passes=5), Classification(), model, "cpu")
    torch.manual_seed(7)
    scores = bald.score(ctx)
    assert {name: m.training for name, m in model.named_modules()} == modes
    for key, value in model.state_dict().items():  # parameters and running statistics alike
        assert torch.equal(value, state[key]), key
    # brute force: the eval-mode embedding (batch-norm on running statistics), then T passes of
    # dropout + the last FC, drawing the masks in the same order (pass by pass, batch by batch)
    model.eval()
    torch.manual_seed(7)
    probs = []
    with torch.no_grad():
        for _ in range(5):
            batches = []
            for start in range(0, len(ctx.subset), 10):
                inputs, _ = ctx.data.train_batch(ctx.subset[start:start + 10], augment=False)
                features = model(inputs).embedding
                batches.append(torch.softmax(model.linear(F.dropout(features, 0.5, training=True)), 1))
            probs.append(torch.cat(batches).double().numpy())
    probs = np.stack(probs)
    mean = probs.mean(0)
    expected = -(mean * np.log(mean)).sum(1) + (probs * np.log(probs)).sum(2).mean(0)
    assert scores.double().numpy() == pytest.approx(expected, rel=1e-4, abs=1e-6)
    assert np.median(expected) > 0.01  # the passes did disagree: dropout sampled
