"""VAAL's training schedule against the official code (sinhasam/vaal solver.py): the iteration count,
two VAE steps on fresh batches per discriminator step, epoch-wise shuffled batches."""
import pytest
import torch

from helpers import ROOT, query, top
from l2ral_lib.checks import load_params
from l2ral_lib.strategies import get_strategy
from l2ral_lib.strategies.base import QueryContext
from l2ral_lib.strategies.vaal import VAAL, discriminator, iterations_per_cycle, official_init


class RecordingImages:
    """A StudyData stand-in: random 16x16 images; records every index batch read for training."""

    def __init__(self, n_pool: int):
        self.n_pool = n_pool
        self.images = torch.randn(n_pool, 3, 16, 16, generator=torch.Generator().manual_seed(0))
        self.training_reads = []

    def train_batch(self, index, augment=True):
        if augment:
            self.training_reads.append(index.tolist())
        return self.images[index], None


class CountingAdam(torch.optim.Adam):
    made: list = []

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.steps = 0
        CountingAdam.made.append(self)

    def step(self, closure=None):
        self.steps += 1
        return super().step(closure)


def fit(monkeypatch, n_pool, n_labeled, **overrides):
    """Run one VAAL query; -> (VAE optimizer steps, discriminator steps, the data stand-in, labeled, unlabeled)."""
    monkeypatch.setattr(torch.optim, "Adam", CountingAdam)
    CountingAdam.made = []
    params = load_params(ROOT / "params" / "cifar10-ci.yaml", {"vaal_width": 4, "vaal_latent_dim": 8, **overrides})
    data = RecordingImages(n_pool)
    labeled, unlabeled = torch.arange(n_labeled), torch.arange(n_labeled, n_pool)
    ctx = QueryContext(model=None, data=data, task=None, params=params, labeled=labeled, subset=unlabeled[:30])
    torch.manual_seed(0)
    picks = get_strategy("vaal")(params, None, None, "cpu").query(ctx, 10)
    assert len(set(picks.tolist())) == 10
    # the VAE's optimizer holds conv weights (4-d), the discriminator's only matrices
    vae_opt, disc_opt = sorted(CountingAdam.made, key=lambda o: -max(p.dim() for p in o.param_groups[0]["params"]))
    return vae_opt.steps, disc_opt.steps, data, set(labeled.tolist()), set(unlabeled.tolist())


def test_a_cycle_makes_the_official_number_of_steps(monkeypatch):
    # official: train_iterations = num_images * train_epochs // batch_size, num_images = the whole pool
    vae_steps, disc_steps, data, labeled, unlabeled = fit(monkeypatch, n_pool=100, n_labeled=20, vaal_iterations=None,
                                                          vaal_epochs=3, vaal_batch_size=8)
    iterations = 100 * 3 // 8
    assert (vae_steps, disc_steps) == (2 * iterations, iterations)
    # each VAE step reads a fresh labeled and a fresh unlabeled batch: 4 reads per iteration, of the VAAL batch size
    reads = data.training_reads
    assert len(reads) == 4 * iterations and all(len(r) == 8 for r in reads[0::2])
    labeled_reads, unlabeled_reads = reads[0::2], reads[1::2]
    assert all(set(r) <= labeled for r in labeled_reads) and all(set(r) <= unlabeled for r in unlabeled_reads)
    # a shuffled pass, not draws with replacement: 2 full labeled batches of 20 (the short one dropped),
    # 10 unlabeled batches covering all 80 once
    first_labeled_pass = sum(labeled_reads[:2], [])
    assert len(set(first_labeled_pass)) == 16
    assert sorted(sum(unlabeled_reads[:10], [])) == sorted(unlabeled)


def test_a_profile_may_set_the_iterations(monkeypatch):
    vae_steps, disc_steps, data, *_ = fit(monkeypatch, n_pool=100, n_labeled=20, vaal_iterations=5, vaal_batch_size=8)
    assert (vae_steps, disc_steps, len(data.training_reads)) == (10, 5, 20)


def test_batch_shrinks_to_a_small_labeled_set(monkeypatch):
    *_, data, labeled, _ = fit(monkeypatch, n_pool=60, n_labeled=12, vaal_iterations=3, vaal_batch_size=128)
    assert all(sorted(r) == sorted(labeled) for r in data.training_reads[0::2])  # the whole labeled set each step
    assert all(len(r) == 12 for r in data.training_reads[1::2])


def test_official_init_is_kaiming_normal_with_zero_bias():
    torch.manual_seed(0)
    net = discriminator(512)
    official_init(net)
    first = net[0]
    assert torch.count_nonzero(first.bias) == 0
    assert first.weight.std().item() == pytest.approx((2 / 512) ** 0.5, rel=0.02)  # PyTorch's default is ~0.026


@pytest.mark.parametrize("amp", [True, False])
def test_vae_follows_amp_and_the_discriminator_stays_float32(monkeypatch, amp):
    """Under `amp` on a bf16 CPU the VAE's convolutions run in bf16; the discriminator, the losses and the
    scores it ranks are float32 either way."""
    from l2ral_lib import precision
    monkeypatch.setattr(precision, "cpu_bf16_flag", lambda: "avx512_bf16")
    seen = {}

    def record(module, inputs, output):
        if isinstance(module, (torch.nn.Conv2d, torch.nn.ConvTranspose2d)):
            seen.setdefault("vae", set()).add(output.dtype)
        elif isinstance(module, torch.nn.Linear) and module.out_features in (512, 1):  # the discriminator's
            seen.setdefault("discriminator", set()).add(output.dtype)
    handle = torch.nn.modules.module.register_module_forward_hook(record)
    try:
        fit(monkeypatch, n_pool=60, n_labeled=20, vaal_iterations=2, vaal_batch_size=8, amp=amp, channels_last=amp)
    finally:
        handle.remove()
    assert seen["vae"] == {torch.bfloat16 if amp else torch.float32}
    assert seen["discriminator"] == {torch.float32}


def test_vae_loss_and_bce_are_the_official_formulas():
    """sinhasam/vaal solver.py: MSELoss (mean) + beta * KLD, KLD = -0.5 * sum(1 + logvar - mu^2 - exp(logvar))
    over the batch; nn.BCELoss (mean) against a constant target."""
    from l2ral_lib.strategies.vaal import bce, vae_loss
    g = torch.Generator().manual_seed(0)
    x, reconstruction = torch.rand(4, 3, 2, 2, generator=g), torch.rand(4, 3, 2, 2, generator=g)
    mu, logvar = torch.randn(4, 5, generator=g), torch.randn(4, 5, generator=g)
    kld = sum(-0.5 * (1 + logvar[i, k] - mu[i, k] ** 2 - torch.exp(logvar[i, k])) for i in range(4) for k in range(5))
    mse = sum((reconstruction - x).flatten() ** 2) / x.numel()
    torch.testing.assert_close(vae_loss(x, reconstruction, mu, logvar, 0.3), mse + 0.3 * kld)
    p = torch.rand(6, generator=g) * 0.98 + 0.01
    for target in (0.0, 1.0):
        expected = -sum(target * torch.log(p[i]) + (1 - target) * torch.log(1 - p[i]) for i in range(6)) / 6
        torch.testing.assert_close(bce(p, target), expected)


def test_unlabeled_batches_keep_the_short_last_batch():
    """The official unlabeled loader keeps the short last batch, the labeled one drops it: every pass
    over 10 items in batches of 4 reads all 10 (4 + 4 + 2), or 8 with drop_last."""
    from l2ral_lib.strategies.vaal import shuffled_batches
    torch.manual_seed(0)
    for drop_last, sizes in ((False, [4, 4, 2]), (True, [4, 4])):
        batches = shuffled_batches(torch.arange(10), 4, drop_last)
        for _ in range(3):  # three passes, each a fresh order
            one_pass = [next(batches) for _ in sizes]
            assert [len(b) for b in one_pass] == sizes
            assert len(set(torch.cat(one_pass).tolist())) == sum(sizes)


def test_vaal_takes_what_the_discriminator_deems_least_likely_labeled(trained, monkeypatch):
    # stub: the VAE's "mean" is each image's mean pixel, the discriminator a sigmoid of it
    vae = lambda x: (x, x.flatten(1).mean(1, keepdim=True), torch.zeros(len(x), 1))  # noqa: E731
    disc = lambda mu: torch.sigmoid(mu[:, 0])  # noqa: E731
    monkeypatch.setattr(VAAL, "fit", lambda self, ctx, unlabeled: (vae, disc))
    study, _, subset, _ = trained
    means = study.data.train_batch(subset, augment=False)[0].double().flatten(1).mean(1).numpy()
    assert query(trained, "vaal") == top(-means)


def test_vaal_iterations_are_the_official_count_and_at_least_one():
    """pool * epochs // batch (sinhasam/vaal), and one step where that rounds to none; a profile's own count wins."""
    params = load_params(ROOT / "params" / "cifar10-ci.yaml", {"vaal_iterations": None, "vaal_epochs": 2,
                                                              "vaal_batch_size": 64})
    assert iterations_per_cycle(params, 1000) == 31
    assert iterations_per_cycle(params, 10) == 1
    assert iterations_per_cycle(load_params(ROOT / "params" / "cifar10-ci.yaml", {"vaal_iterations": 7}), 1000) == 7
