"""Loss-prediction heads and their objectives."""
import pytest
import scipy.stats
import torch

from l2ral_lib.heads import L2RHead, LossNet
from l2ral_lib.losses import loss_mse, margin_ranking_loss, ranking_loss
from l2ral_lib.models.resnet import SmallImageResNet
from l2ral_lib.tasks import spearman


def test_margin_loss_hand_made_pairs():
    # pairs (0,3) and (1,2): true l0 > l3 and l1 < l2
    true = torch.tensor([4.0, 1.0, 3.0, 2.0])
    # predictions ordered right with a gap >= margin for pair (0,3), wrong for (1,2)
    predicted = torch.tensor([5.0, 2.0, 1.5, 3.0])
    # pair (0,3): sign +1, diff 2 -> max(0, 1-2) = 0; pair (1,2): sign -1, diff 0.5 -> max(0, 1+0.5) = 1.5
    assert margin_ranking_loss(predicted, true).item() == pytest.approx((0 + 1.5) / 2)


def test_margin_loss_small_gap_still_pays():
    true, predicted = torch.tensor([2.0, 1.0]), torch.tensor([0.3, 0.0])  # right order, gap 0.3 < margin 1
    assert margin_ranking_loss(predicted, true, margin=1.0).item() == pytest.approx(0.7)


def test_margin_loss_odd_batch_drops_last_and_needs_two():
    true, predicted = torch.tensor([1.0, 2.0, 9.0]), torch.tensor([0.0, 0.0, 100.0])
    assert margin_ranking_loss(predicted, true).item() == margin_ranking_loss(predicted[:2], true[:2]).item()
    with pytest.raises(ValueError):
        margin_ranking_loss(torch.zeros(1), torch.zeros(1))


def test_margin_loss_ignores_scale_of_true_losses():
    generator = torch.Generator().manual_seed(0)
    true, predicted = torch.rand(8, generator=generator), torch.randn(8, generator=generator)
    assert margin_ranking_loss(predicted, true).item() == pytest.approx(margin_ranking_loss(predicted, 100 * true).item())


def test_ranking_loss_zero_for_a_perfect_sorter():
    from l2ral_lib.sorter import exact_ranks

    class ExactSorter(torch.nn.Module):
        def forward(self, x):
            return exact_ranks(x)

    true = torch.tensor([0.3, 2.0, 0.1, 5.0])
    assert ranking_loss(true * 7 + 1, true, ExactSorter()).item() == 0
    assert ranking_loss(-true, true, ExactSorter()).item() > 0
    assert loss_mse(true, true).item() == 0


def test_heads_output_one_value_per_sample():
    model = SmallImageResNet(width=4)
    out = model(torch.randn(3, 3, 32, 32))
    assert L2RHead(model.feature_channels[-1])(out.features).shape == (3,)
    assert LossNet(model.feature_channels)(out.features).shape == (3,)


def test_l2r_head_loss_leaves_target_gradients_unchanged(ci_params):
    """The L2R head reads detached features: adding its loss changes no gradient of the target model."""
    from l2ral_lib.strategies import get_strategy
    from l2ral_lib.tasks import Classification

    params, task = ci_params(), Classification()

    def target_grads(with_head: bool):
        torch.manual_seed(0)
        model = SmallImageResNet(width=4)
        strategy = get_strategy("l2r")(params, task, model, "cpu")
        strategy.begin_cycle()
        x, y = torch.randn(params.batch_size, 3, 32, 32), torch.randint(0, 10, (params.batch_size,))
        out = model(x)
        per_sample = task.per_sample_loss(out.output, y)
        loss = per_sample.mean()
        if with_head:
            head_loss = strategy.head_loss(out, per_sample, epoch=0)
            assert head_loss is not None and head_loss.requires_grad
            loss = loss + head_loss
        loss.backward()
        head_grads = [p.grad for p in strategy.head.parameters()]
        return [p.grad.clone() for p in model.parameters()], head_grads

    plain, _ = target_grads(False)
    with_head, head_grads = target_grads(True)
    assert all(torch.equal(a, b) for a, b in zip(plain, with_head))
    assert all(g is not None and torch.isfinite(g).all() for g in head_grads)


def test_ll4al_gradient_reaches_target_until_detach_epoch(ci_params):
    from l2ral_lib.strategies import get_strategy
    from l2ral_lib.tasks import Classification

    params = ci_params(epochs=2, ll4al_detach_epoch=1, lr_milestones=[2])
    model = SmallImageResNet(width=4)
    strategy = get_strategy("ll4al")(params, Classification(), model, "cpu")
    strategy.begin_cycle()
    out = model(torch.randn(4, 3, 32, 32))
    losses = torch.tensor([1.0, 2.0, 3.0, 0.5])
    assert strategy.head_loss(out, losses, epoch=0).grad_fn is not None
    model.zero_grad()
    strategy.head_loss(out, losses, epoch=0).backward(retain_graph=True)
    assert model.conv1.weight.grad.abs().sum() > 0  # before the detach epoch the margin loss trains the target
    model.zero_grad()
    strategy.head_loss(out, losses, epoch=1).backward()
    assert model.conv1.weight.grad is None or model.conv1.weight.grad.abs().sum() == 0


@pytest.mark.parametrize("seed", range(5))
def test_spearman_equals_scipy(seed):
    generator = torch.Generator().manual_seed(seed)
    a = torch.randint(0, 5, (40,), generator=generator).float()  # ties on purpose
    b = torch.randn(40, generator=generator)
    assert spearman(a, b) == pytest.approx(scipy.stats.spearmanr(a.numpy(), b.numpy()).statistic, abs=1e-12)
