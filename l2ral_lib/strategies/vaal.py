"""VAAL (Sinha et al., ICCV 2019): a VAE and a discriminator play a minimax game on the latent
space; the query takes the subset samples the discriminator is most sure are unlabeled.

Follows the official code (sinhasam/vaal model.py, solver.py, arguments.py): 4 stride-2 convs
128..1024 channels, latent fc, 3 transposed convs; MLP discriminator 512-512-1; its initialisation;
MSE reconstruction + beta * KL summed over the batch; Adam 5e-4 for both nets; per iteration two VAE
steps, each on a fresh labeled and unlabeled batch, then one discriminator step on the last pair;
`num_images * train_epochs // batch_size` iterations per cycle with num_images the whole pool
(`vaal_epochs`, `vaal_batch_size`; a CPU profile may set `vaal_iterations` instead). Both nets start
fresh every cycle. Differences, declared in FIDELITY.md: the VAE reads the study's inputs (its
normalisation and training augmentation; regression inputs resized to `vaal_image_size`), scores in
eval mode, only the query subset is scored, as for every method of the paper, and the VAE runs in the
target's precision and layout (bf16 autocast and channels_last where `amp` and native; the losses and
the discriminator float32).
"""
from __future__ import annotations

from typing import Iterator

import torch
from torch import nn
from torch.nn import functional as F

from ..compilation import compiled
from ..errors import ParamsError
from ..precision import autocast, prepare, uses_channels_last
from .base import Strategy, register_strategy


class VAE(nn.Module):
    """(B, C, H, W) -> (reconstruction (B, C, H, W), mu (B, z), logvar (B, z)); H, W multiples of 16."""

    def __init__(self, in_channels: int, image_size: int, latent_dim: int, width: int = 128):
        super().__init__()
        channels = [in_channels, width, 2 * width, 4 * width, 8 * width]
        self.encoder = nn.Sequential(*[layer for c_in, c_out in zip(channels, channels[1:]) for layer in
                                       (nn.Conv2d(c_in, c_out, 4, 2, 1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU(True))])
        self.bottom = image_size // 16
        flat = 8 * width * self.bottom ** 2
        self.fc_mu = nn.Linear(flat, latent_dim)
        self.fc_logvar = nn.Linear(flat, latent_dim)
        self.fc_decode = nn.Linear(latent_dim, 8 * width * (2 * self.bottom) ** 2)
        up = channels[:0:-1]  # 8w, 4w, 2w, w
        self.decoder = nn.Sequential(*[layer for c_in, c_out in zip(up, up[1:]) for layer in
                                       (nn.ConvTranspose2d(c_in, c_out, 4, 2, 1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU(True))],
                                     nn.ConvTranspose2d(width, in_channels, 1))
        self.width = width

    def forward(self, x):
        hidden = torch.flatten(self.encoder(x), 1)
        mu, logvar = self.fc_mu(hidden), self.fc_logvar(hidden)
        z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar) if self.training else mu
        decoded = self.fc_decode(z).view(-1, 8 * self.width, 2 * self.bottom, 2 * self.bottom)
        return self.decoder(decoded), mu, logvar


def discriminator(latent_dim: int) -> nn.Module:
    """latent (B, z) -> probability (B,) that the sample is labeled."""
    return nn.Sequential(nn.Linear(latent_dim, 512), nn.ReLU(True), nn.Linear(512, 512), nn.ReLU(True),
                         nn.Linear(512, 1), nn.Sigmoid(), nn.Flatten(0))


def official_init(*modules: nn.Module) -> None:
    """The official `kaiming_init`: Kaiming-normal weights and zero biases for the Conv2d and Linear
    layers it reaches (the VAE's encoder and decoder input, the whole discriminator). Its loop misses
    fc_mu, fc_logvar and the transposed convs, which keep PyTorch's default, as here."""
    for module in modules:
        for layer in module.modules():
            if type(layer) in (nn.Conv2d, nn.Linear):
                nn.init.kaiming_normal_(layer.weight)
                if layer.bias is not None:
                    nn.init.zeros_(layer.bias)


def iterations_per_cycle(params, n_pool: int) -> int:
    """The official count, num_images * train_epochs // batch_size with num_images the whole pool
    (sinhasam/vaal solver.py, main.py), unless a profile sets `vaal_iterations`; at least one."""
    if params.vaal_iterations is not None:
        return params.vaal_iterations
    return max(1, n_pool * params.vaal_epochs // params.vaal_batch_size)


def shuffled_batches(index: torch.Tensor, batch: int, drop_last: bool) -> Iterator[torch.Tensor]:
    """Endless batches of `index` in a fresh random order every pass: a shuffled DataLoader read again
    and again, as the official `read_data` (its labeled loader drops the short last batch, its
    unlabeled one keeps it). Needs len(index) >= batch when drop_last."""
    while True:
        order = index[torch.randperm(len(index), device=index.device)]
        end = len(order) - len(order) % batch if drop_last else len(order)
        for start in range(0, end, batch):
            yield order[start:start + batch]


def bce(probability: torch.Tensor, target: float) -> torch.Tensor:
    """The official bce_loss against a constant target (1: labeled, 0: unlabeled)."""
    return F.binary_cross_entropy(probability, torch.full_like(probability, target))


def vae_loss(x, reconstruction, mu, logvar, beta):
    kld = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())  # summed, as the official code
    return F.mse_loss(reconstruction, x) + beta * kld


@register_strategy("vaal")
class VAAL(Strategy):
    @classmethod
    def check_params(cls, params):
        if params.vaal_image_size is not None and params.vaal_image_size % 16:
            raise ParamsError("vaal_image_size", f"({params.vaal_image_size}) must be a multiple of 16")

    @classmethod
    def check_data(cls, params, data):
        if params.vaal_image_size is None:
            inputs, _ = data.train_batch(torch.zeros(1, dtype=torch.long, device=data.device), augment=False)
            side = inputs.shape[-2:]
            if side[0] != side[1] or side[0] % 16:
                raise ParamsError("vaal_image_size", f"VAAL's VAE needs square inputs with a side divisible by 16;"
                                                     f" {data.name} gives {tuple(side)}: set vaal_image_size")

    def images(self, ctx, index, augment):
        inputs, _ = ctx.data.train_batch(index, augment=augment)
        size = self.params.vaal_image_size
        if size is not None and tuple(inputs.shape[-2:]) != (size, size):
            inputs = F.interpolate(inputs, size=(size, size), mode="bilinear", align_corners=False)
        return prepare(inputs, self.params)

    def run_vae(self, vae, images):
        """The VAE under the target's precision (bf16 autocast where `amp` and native, precision.py), its
        outputs in float32: the reconstruction and KL losses and the discriminator stay float32."""
        with autocast(self.params, images.device):
            reconstruction, mu, logvar = vae(images)
        return reconstruction.float(), mu.float(), logvar.float()

    def fit(self, ctx, unlabeled: torch.Tensor):
        p, device = self.params, ctx.labeled.device
        sample = self.images(ctx, ctx.labeled[:2], augment=False)  # checked by check_data before training
        vae = VAE(sample.shape[1], sample.shape[-1], p.vaal_latent_dim, p.vaal_width).to(device)
        disc = discriminator(p.vaal_latent_dim).to(device)
        official_init(vae.encoder, vae.fc_decode, disc)
        if uses_channels_last(p, device):
            # the target's memory layout (with bf16, 1.5x the contiguous float32 VAE on a CPU:
            # BENCHMARKS.md), after the initialisation, which would fill channels_last weights in
            # another order. At the CelebA smoke width, where the target's float32 backward crashes
            # on channels_last, the VAE's runs in either precision (tests/test_precision.py)
            vae = vae.to(memory_format=torch.channels_last)
        vae_opt = torch.optim.Adam(vae.parameters(), lr=p.vaal_lr)
        disc_opt = torch.optim.Adam(disc.parameters(), lr=p.vaal_lr)
        batch = min(p.vaal_batch_size, len(ctx.labeled))
        labeled_batches = shuffled_batches(ctx.labeled, batch, drop_last=True)
        unlabeled_batches = shuffled_batches(unlabeled, batch, drop_last=False)
        vae.train()
        disc.train()

        def vae_step_loss(labeled_x, unlabeled_x):
            recon_l, mu_l, logvar_l = self.run_vae(vae, labeled_x)
            recon_u, mu_u, logvar_u = self.run_vae(vae, unlabeled_x)
            # the VAE tries to make the discriminator call every sample labeled
            adversarial = bce(disc(mu_l), 1.0) + bce(disc(mu_u), 1.0)
            return vae_loss(labeled_x, recon_l, mu_l, logvar_l, p.vaal_beta) + \
                vae_loss(unlabeled_x, recon_u, mu_u, logvar_u, p.vaal_beta) + p.vaal_adversary_weight * adversarial

        def disc_step_loss(labeled_x, unlabeled_x):
            with torch.no_grad():
                _, mu_l, _ = self.run_vae(vae, labeled_x)
                _, mu_u, _ = self.run_vae(vae, unlabeled_x)
            return bce(disc(mu_l), 1.0) + bce(disc(mu_u), 0.0)

        # `compile` (compilation.py): both steps captured for the full batches; the unlabeled pass's short
        # last batch eagerly (the labeled batches are all full: drop_last)
        vae_step, disc_step = compiled(vae_step_loss, p), compiled(disc_step_loss, p)
        for _ in range(iterations_per_cycle(p, ctx.data.n_pool)):
            for _ in range(2):  # num_vae_steps of the official code, each on fresh batches
                labeled_x = self.images(ctx, next(labeled_batches), True)
                unlabeled_x = self.images(ctx, next(unlabeled_batches), True)
                full = len(unlabeled_x) == batch
                loss = (vae_step if full else vae_step_loss)(labeled_x, unlabeled_x)
                vae_opt.zero_grad(set_to_none=True)
                loss.backward()
                vae_opt.step()
            # one discriminator step (num_adv_steps) on the last VAE step's batches
            disc_loss = (disc_step if full else disc_step_loss)(labeled_x, unlabeled_x)
            disc_opt.zero_grad(set_to_none=True)
            disc_loss.backward()
            disc_opt.step()
        return vae.eval(), disc.eval()

    def query(self, ctx, budget):
        labeled_mask = torch.zeros(ctx.data.n_pool, dtype=torch.bool, device=ctx.labeled.device)
        labeled_mask[ctx.labeled] = True
        with ctx.timed("fit"):
            vae, disc = self.fit(ctx, torch.nonzero(~labeled_mask).squeeze(1))
        with ctx.timed("score"), torch.no_grad():
            step = self.params.eval_batch_size
            labeled_prob = torch.cat([disc(self.run_vae(vae, self.images(ctx, ctx.subset[i:i + step], False))[1])
                                      for i in range(0, len(ctx.subset), step)])
        with ctx.timed("select"):
            return torch.topk(-labeled_prob, budget).indices
