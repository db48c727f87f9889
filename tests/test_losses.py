"""Loss-prediction heads and their objectives."""
import numpy as np
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
    from l2ral_lib.ranks import exact_ranks

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


def _target_grads_of_head_loss(method, params, epoch):
    """(head loss, {name: grad} of the target model's parameters) of one sorter-sized batch, the head
    loss alone backpropagated; the target model and the head start from the same weights for every method."""
    from l2ral_lib.strategies import get_strategy
    from l2ral_lib.tasks import Classification

    torch.manual_seed(0)
    model = SmallImageResNet(width=4)
    strategy = get_strategy(method)(params, Classification(), model, "cpu")
    strategy.begin_cycle()
    out = model(torch.randn(params.batch_size, 3, 32, 32, generator=torch.Generator().manual_seed(9)))
    true = torch.rand(params.batch_size, generator=torch.Generator().manual_seed(10)) * 3
    loss = strategy.head_loss(out, true, epoch=epoch)
    loss.backward()
    grads = {name: p.grad for name, p in model.named_parameters()}
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in strategy.head.parameters())
    return loss, grads


def test_l2r_joint_ranking_gradient_reaches_the_target_where_l2r_stops_it(ci_params):
    """Issue 26 item 3: l2r-joint is l2r (same head, same sorter loss, same value) whose ranking gradient
    trains the target model's weights below the head's input before ll4al_detach_epoch; l2r's never does."""
    params = ci_params(epochs=2, ll4al_detach_epoch=1, lr_milestones=[2])
    joint_loss, joint = _target_grads_of_head_loss("l2r-joint", params, epoch=0)
    l2r_loss, l2r = _target_grads_of_head_loss("l2r", params, epoch=0)
    assert joint_loss.item() == l2r_loss.item()  # exactly l2r's objective, weight 1
    assert all(g is None for g in l2r.values())  # stop-gradient: not one target weight is reached
    assert joint["conv1.weight"].abs().sum() > 0 and joint["layers.3.1.conv2.weight"].abs().sum() > 0
    assert joint["linear.weight"] is None  # the head reads the last block, not the classifier after it
    _, detached = _target_grads_of_head_loss("l2r-joint", params, epoch=1)  # from the detach epoch on, as LL4AL
    assert all(g is None for g in detached.values())


def test_l2r_joint_refuses_a_detach_epoch_beyond_the_epochs(ci_params):
    from l2ral_lib.errors import ParamsError
    from l2ral_lib.strategies import get_strategy
    epochs = ci_params().epochs
    get_strategy("l2r-joint").check_params(ci_params(ll4al_detach_epoch=epochs))
    with pytest.raises(ParamsError, match="ll4al_detach_epoch"):
        get_strategy("l2r-joint").check_params(ci_params(ll4al_detach_epoch=epochs + 1))


@pytest.mark.parametrize("seed", range(5))
def test_spearman_equals_scipy(seed):
    generator = torch.Generator().manual_seed(seed)
    a = torch.randint(0, 5, (40,), generator=generator).float()  # ties on purpose
    b = torch.randn(40, generator=generator)
    assert spearman(a, b) == pytest.approx(scipy.stats.spearmanr(a.numpy(), b.numpy()).statistic, abs=1e-12)


# ---------------------------------------------------------------- the ranking objectives of issue 16

from l2ral_lib.losses import (DIFFSORT_STEEPNESS, RANK_LOSSES, RELAXATION_FLOOR, SOFTRANK_TAU,  # noqa: E402
                              diffsort_loss, diffsort_ranks, soft_ranks, softrank_loss)
from l2ral_lib.ranks import exact_ranks  # noqa: E402
from l2ral_lib.sorter import load_sorter
from l2ral_lib.sorter.quality import gradient_by_spread


def separated(d: int, seed: int) -> torch.Tensor:
    """(d,) distinct values at least 0.5 apart, in random order, at an odd offset and scale."""
    generator = torch.Generator().manual_seed(seed)
    values = torch.randperm(d, generator=generator).float() + 0.4 * torch.rand(d, generator=generator)
    return 3.0 * values - 7.0


def test_soft_ranks_follow_the_pairwise_sigmoid_formula():
    """Against a double loop in float64 over the list standardised by hand (population sd)."""
    x = torch.randn(9, generator=torch.Generator().manual_seed(1), dtype=torch.float64) * 0.2 + 4
    z = ((x - x.mean()) / x.std(correction=0)).tolist()
    tau = 0.5
    by_hand = [(0.5 + sum(1 / (1 + np.exp(-(zi - zj) / tau)) for zj in z)) / len(z) for zi in z]
    assert soft_ranks(x, tau).tolist() == pytest.approx(by_hand, abs=1e-12)


@pytest.mark.parametrize("d", [4, 40, 64])
def test_soft_ranks_become_exact_ranks_as_tau_goes_to_zero(d):
    x = separated(d, d)
    errors = [(soft_ranks(x, tau) - exact_ranks(x)).abs().max().item() for tau in (1.0, 0.1, 0.01, 1e-3)]
    assert errors == sorted(errors, reverse=True) and errors[0] > 1e-2
    assert errors[-1] < 1e-6


@pytest.mark.parametrize("d", [4, 40, 64])  # 40: an epoch's last, partial batch (not a power of two)
def test_diffsort_ranks_become_exact_ranks_as_the_network_hardens(d):
    x = torch.stack([separated(d, d), separated(d, d + 1)])
    assert torch.allclose(diffsort_ranks(x, steepness=1e7), exact_ranks(x), atol=1e-4)
    soft = diffsort_ranks(x)  # a relaxed permutation: every row of P sums to 1, so do the positions
    assert not torch.allclose(soft, exact_ranks(x), atol=1e-3)
    assert soft.sum(-1).tolist() == pytest.approx([(d + 1) / 2] * 2, rel=1e-5)


def test_relaxations_are_as_smooth_as_the_shipped_sorter():
    """The temperatures' rationale (losses.py): on unit-normal lists of 64 the mean |rank error| of
    softrank and diffsort is within 0.15 positions of the shipped sodeep-64 sorter's (about 1.9)."""
    x = torch.randn(500, 64, generator=torch.Generator().manual_seed(0))
    error = lambda ranks: ((ranks - exact_ranks(x)).abs().mean() * 64).item()  # noqa: E731
    with torch.no_grad():
        sorter = error(load_sorter(64, "sodeep")(x))
    assert 1.5 < sorter < 2.5
    assert error(soft_ranks(x)) == pytest.approx(sorter, abs=0.15)
    assert error(diffsort_ranks(x)) == pytest.approx(sorter, abs=0.15)


@pytest.mark.parametrize("ranks", [soft_ranks, diffsort_ranks], ids=["softrank", "diffsort"])
@pytest.mark.parametrize("d", [40, 64])
def test_relaxed_objectives_neither_explode_nor_vanish_across_spreads(ranks, d):
    """Eq. 6's gradient w.r.t. predictions of sd 1e-6 to 1e2 (sorter.gradient_by_spread). From the floor
    up it falls exactly as 1 / sd (scale-free: the lists are standardised); below it, it levels off
    within 10x the scale-free law's value at the floor (measured: at most 8.3x); unstandardised
    pairwise sigmoids would saturate at sd 1e2 (gradient ~ 0) and blow up as 1 / sd at 1e-6."""
    wide = [2 * RELAXATION_FLOOR, 1e-2, 1.0, 1e2]
    above = gradient_by_spread(ranks, d, wide)
    scale_free = above[0] * wide[0]  # gradient x sd
    assert [g * s for g, s in zip(above, wide)] == pytest.approx([scale_free] * 4, rel=1e-3)
    narrow = gradient_by_spread(ranks, d, [1e-4, 1e-5, 1e-6])
    assert 0 < min(narrow) and max(narrow) < 10 * scale_free / RELAXATION_FLOOR
    assert narrow[2] == pytest.approx(narrow[1], rel=0.1)
    assert np.isfinite(gradient_by_spread(ranks, d, [0.0])).all()  # a constant list: zero, finite


def test_relaxed_objectives_are_invariant_to_positive_affine_maps_and_zero_when_perfect():
    x = torch.randn(3, 64, generator=torch.Generator().manual_seed(4))
    true = torch.rand(3, 64, generator=torch.Generator().manual_seed(5))
    for loss in (softrank_loss, diffsort_loss):
        assert loss(250 * x - 3, true).item() == pytest.approx(loss(x, true).item(), rel=1e-4)
        assert loss(true, true) < loss(-true, true) / 10  # right order: only the relaxation's own error remains
    separated_list = separated(64, 0)
    assert softrank_loss(separated_list, separated_list, tau=1e-3).item() < 1e-12


def test_margin_gradient_keeps_its_size_across_spreads():
    """LL4AL's hinge: each violated pair pays a constant slope whatever the spread, so the gradient
    neither vanishes at sd 1e-4 (every pair within the margin) nor grows at sd 1e2."""
    generator = torch.Generator().manual_seed(6)
    base, true = torch.randn(64, generator=generator), torch.rand(64, generator=generator)
    norms = []
    for spread in (1e-4, 1.0, 1e2):
        x = (spread * base).requires_grad_(True)
        margin_ranking_loss(x, true).backward()
        norms.append(x.grad.norm().item())
    assert all(0.05 < n < 0.5 for n in norms), norms


def test_mse_gradient_grows_with_the_spread_by_design():
    """Pinned so that nobody 'fixes' it: l2r-mse is the scale-sensitive objective of Fig. 2's argument."""
    base, true = torch.randn(64, generator=torch.Generator().manual_seed(7)), torch.zeros(64)
    grads = []
    for spread in (1.0, 1e2):
        x = (spread * base).requires_grad_(True)
        loss_mse(x, true).backward()
        grads.append(x.grad.norm().item())
    assert grads[1] == pytest.approx(100 * grads[0], rel=1e-5)


def test_objectives_average_stacked_lists():
    """Lists along the last dim: a stack of lists costs the mean of the lists' losses (the ranking
    bench trains one head per seed in one step)."""
    generator = torch.Generator().manual_seed(8)
    predicted, true = torch.randn(3, 64, generator=generator), torch.rand(3, 64, generator=generator)
    sorter = load_sorter(64, "sodeep")
    for loss in (softrank_loss, diffsort_loss, margin_ranking_loss, loss_mse,
                 lambda p, t: ranking_loss(p, t, sorter)):
        each = [loss(predicted[i], true[i]).item() for i in range(3)]
        assert loss(predicted, true).item() == pytest.approx(np.mean(each), rel=1e-5)


# The method -> (head, objective, sorter kind) table of issue 16, each objective computed here from losses.py
def _sodeep(kind):
    return lambda p, t, params: ranking_loss(p, t, load_sorter(params.batch_size, kind))


EXPECTED = {
    "l2r": (L2RHead, _sodeep("sodeep"), "sodeep"), "l2r-all-features": (LossNet, _sodeep("sodeep"), "sodeep"),
    "l2r-gru-sorter": (L2RHead, _sodeep("gru"), "gru"), "l2r-joint": (L2RHead, _sodeep("sodeep"), "sodeep"),
    "ll4al": (LossNet, lambda p, t, params: params.ll4al_weight * margin_ranking_loss(p, t, params.ll4al_margin),
              None),
    "l2r-mse": (L2RHead, lambda p, t, params: loss_mse(p, t), None),
    "l2r-softrank": (L2RHead, lambda p, t, params: softrank_loss(p, t, SOFTRANK_TAU), None),
    "l2r-diffsort": (L2RHead, lambda p, t, params: diffsort_loss(p, t, DIFFSORT_STEEPNESS), None),
}


def _head_loss(method, params, batch):
    from l2ral_lib.strategies import get_strategy
    from l2ral_lib.tasks import Classification

    torch.manual_seed(0)
    model = SmallImageResNet(width=4)
    strategy = get_strategy(method)(params, Classification(), model, "cpu")
    strategy.begin_cycle()
    out = model(torch.randn(batch, 3, 32, 32, generator=torch.Generator().manual_seed(9)))
    true = torch.rand(batch, generator=torch.Generator().manual_seed(10)) * 3
    return strategy, out, true, strategy.head_loss(out, true, epoch=params.epochs - 1)


@pytest.mark.parametrize("method", sorted(EXPECTED))
def test_each_method_trains_its_head_with_its_own_objective(method, ci_params):
    params = ci_params(ll4al_weight=0.5)
    head_class, objective, sorter_kind = EXPECTED[method]
    strategy, out, true, loss = _head_loss(method, params, params.batch_size)
    assert isinstance(strategy.head, head_class)
    with torch.no_grad():
        assert loss.item() == objective(strategy.head(out.features), true, params).item()
    loss.backward()  # the gradient reaches every weight of the head
    *inner, (last_bias_name, last_bias) = strategy.head.named_parameters()
    assert last_bias_name.endswith("bias") and all(p.grad.abs().sum() > 0 for _, p in inner)
    # ranks ignore a common shift of the predictions, regression does not
    assert (last_bias.grad.abs().item() > 1e-3) == (method == "l2r-mse"), last_bias.grad
    sorter = strategy.weights_used().get("sorter")  # provenance names the sorter file a method depends on
    assert (sorter and sorter["file"]) == (sorter_kind and f"l2ral_lib/sorter_weights/{sorter_kind}-4.pt")


@pytest.mark.parametrize("rank_loss", RANK_LOSSES)
@pytest.mark.parametrize("method", ["l2r", "ll4al", "l2r-softrank"])
def test_rank_loss_param_overrides_the_methods_objective(method, rank_loss, ci_params):
    params = ci_params(rank_loss=rank_loss, ll4al_weight=0.5)
    own = {"sodeep": _sodeep("sodeep"), "margin": lambda p, t, params: margin_ranking_loss(p, t, params.ll4al_margin),
           "mse": EXPECTED["l2r-mse"][1], "softrank": EXPECTED["l2r-softrank"][1],
           "diffsort": EXPECTED["l2r-diffsort"][1]}[rank_loss]
    weight = params.ll4al_weight if method == "ll4al" else 1.0  # LL4AL's lambda weighs whatever objective it has
    strategy, out, true, loss = _head_loss(method, params, params.batch_size)
    assert strategy.rank_loss == rank_loss
    with torch.no_grad():
        assert loss.item() == pytest.approx(weight * own(strategy.head(out.features), true, params).item(), rel=1e-6)


@pytest.mark.parametrize("method,used", [("l2r", False), ("l2r-gru-sorter", False), ("l2r-softrank", True),
                                         ("l2r-diffsort", True), ("ll4al", True), ("l2r-mse", True)])
def test_which_objectives_use_a_short_last_batch(method, used, ci_params):
    """The sorter ranks lists of exactly batch_size (paper: 64); the other objectives rank any list of 2+."""
    params = ci_params(ll4al_detach_epoch=0)
    assert (_head_loss(method, params, params.batch_size - 1)[3] is not None) == used
    assert (_head_loss(method, params, 1)[3] is not None) == (method == "l2r-mse")


def test_unknown_rank_loss_is_one_line_naming_the_key(ci_params):
    from l2ral_lib.errors import ParamsError

    with pytest.raises(ParamsError, match=r"rank_loss.*'softrnk'.*did you mean 'softrank'"):
        ci_params(rank_loss="softrnk")
    # the sorter objective needs a shipped length: the key, the value and how to get one
    with pytest.raises(ParamsError, match=r"^params: batch_size: 5 matches no shipped sodeep sorter .*"
                                          r"`make sorter SEQ_LEN=5`$"):
        ci_params(strategies=["l2r-mse"], rank_loss="sodeep", batch_size=5)
    ci_params(strategies=["l2r-mse"], rank_loss="softrank", batch_size=5)  # no sorter, any batch size


@pytest.mark.parametrize("name, relax, default", [("softrank", soft_ranks, SOFTRANK_TAU),
                                                  ("diffsort", diffsort_ranks, DIFFSORT_STEEPNESS)])
def test_relaxed_losses_use_the_temperature_they_are_given(name, relax, default):
    """eq. 6 through the relaxation at the temperature passed, not the default one (the ranking bench sweeps it)."""
    loss = {"softrank": softrank_loss, "diffsort": diffsort_loss}[name]
    g = torch.Generator().manual_seed(0)
    predicted, true = torch.randn(64, generator=g), torch.randn(64, generator=g)
    other = default * 0.2
    expected = torch.nn.functional.mse_loss(relax(predicted, other), exact_ranks(true))
    torch.testing.assert_close(loss(predicted, true, other), expected)
    assert not torch.allclose(loss(predicted, true, other), loss(predicted, true))


def test_spearman_takes_tensors_lists_and_arrays_alike():
    """= scipy's, whatever the container (the ranking bench passes numpy arrays, the loop tensors)."""
    g = np.random.default_rng(0)
    a, b = g.normal(size=30), g.normal(size=30)
    b[:10] = a[:10]  # some agreement, some ties in neither
    expected = scipy.stats.spearmanr(a, b).statistic
    grad = torch.tensor(a, requires_grad=True), torch.tensor(b, requires_grad=True)  # a head's output, say
    for x, y in ((a, b), (a.tolist(), b.tolist()), (torch.tensor(a), torch.tensor(b)), (a.tolist(), torch.tensor(b)),
                 grad):
        assert spearman(x, y) == pytest.approx(expected, abs=1e-12)


def test_heads_are_built_with_the_params_width_and_record_their_sorter():
    """head_hidden reaches the L2R head; a study records the hash of the sorter kind it trains with."""
    from l2ral_lib.checks import load_params
    from l2ral_lib.sorter import weights_hash
    from l2ral_lib.strategies import get_strategy
    from l2ral_lib.tasks import Classification
    from helpers import ROOT
    params = load_params(ROOT / "params" / "cifar10-ci.yaml", {"head_hidden": 7})
    model = SmallImageResNet(width=4)
    l2r = get_strategy("l2r")(params, Classification(), model, "cpu")
    assert l2r.head.fc1.out_features == 7
    n = params.batch_size
    assert l2r.weights_used()["sorter"]["sha256"] == weights_hash(n, "sodeep")
    gru = get_strategy("l2r-gru-sorter")(params, Classification(), model, "cpu")
    assert gru.weights_used()["sorter"]["sha256"] == weights_hash(n, "gru") != weights_hash(n, "sodeep")


def test_ll4al_may_detach_at_the_last_epoch_but_not_beyond(ci_params):
    """ll4al_detach_epoch = epochs (never detach) is valid; one more is refused before any work."""
    from l2ral_lib.errors import ParamsError
    from l2ral_lib.strategies import get_strategy
    epochs = ci_params().epochs
    get_strategy("ll4al").check_params(ci_params(ll4al_detach_epoch=epochs))
    with pytest.raises(ParamsError, match="ll4al_detach_epoch"):
        get_strategy("ll4al").check_params(ci_params(ll4al_detach_epoch=epochs + 1))


def test_head_optimizer_is_built_from_the_params(ci_params):
    """SGD (the LL4AL reference's module optimiser) takes head_lr, head_momentum and the target's weight
    decay; Adam takes head_lr alone; both step the rate x0.1 at each of head_lr_milestones."""
    from l2ral_lib.strategies.loss_head import make_head_optimizer
    head = torch.nn.Linear(2, 1)
    params = ci_params(head_optimizer="sgd", head_lr=0.05, head_momentum=0.8, weight_decay=0.003,
                       head_lr_milestones=[2])
    optimizer, scheduler = make_head_optimizer(params, head.parameters())
    group = optimizer.param_groups[0]
    assert type(optimizer) is torch.optim.SGD
    assert (group["lr"], group["momentum"], group["weight_decay"]) == (0.05, 0.8, 0.003)
    rates = []
    for _ in range(4):
        rates.append(group["lr"])
        optimizer.step()
        scheduler.step()
    assert rates == pytest.approx([0.05, 0.05, 0.005, 0.005])
    optimizer, _ = make_head_optimizer(ci_params(head_optimizer="adam", head_lr=0.002, weight_decay=0.003),
                                       head.parameters())
    assert type(optimizer) is torch.optim.Adam
    assert (optimizer.param_groups[0]["lr"], optimizer.param_groups[0]["weight_decay"]) == (0.002, 0)


@pytest.mark.parametrize("rank_loss", ["margin", "softrank", "diffsort"])
def test_pairwise_objectives_rank_lists_of_two_and_skip_lists_of_one(ci_params, rank_loss):
    from l2ral_lib.strategies.loss_head import make_objective
    objective = make_objective(rank_loss, ci_params(), "cpu", "sodeep")
    assert objective(torch.tensor([0.3, 0.1]), torch.tensor([1.0, 2.0])) is not None
    assert objective(torch.tensor([0.3]), torch.tensor([1.0])) is None


def test_margin_objective_takes_the_params_margin(ci_params):
    from l2ral_lib.strategies.loss_head import make_objective
    predicted, true = torch.tensor([0.3, 0.1, 0.2, 0.0]), torch.tensor([1.0, 2.0, 3.0, 4.0])
    objective = make_objective("margin", ci_params(ll4al_margin=0.3), "cpu", "sodeep")
    assert objective(predicted, true).item() == pytest.approx(margin_ranking_loss(predicted, true, 0.3).item())
    assert objective(predicted, true).item() != pytest.approx(margin_ranking_loss(predicted, true, 1.0).item())


# ---------------------------------------------------------------- how far the shipped sorters were trained (issue 26)

@pytest.mark.parametrize("length", [64, 32, 4])
def test_provenance_says_how_far_each_shipped_sorter_was_trained(length, ci_params):
    import json

    from l2ral_lib.sorter import weights_path
    from l2ral_lib.strategies import get_strategy
    from l2ral_lib.tasks import Classification

    params = ci_params(batch_size=length)
    model = SmallImageResNet(width=4)
    sodeep = get_strategy("l2r")(params, Classification(), model, "cpu").weights_used()["sorter"]
    record = json.loads(weights_path(length, "sodeep").with_suffix(".json").read_text())
    assert (sodeep["epochs_trained"], sodeep["epochs_target"], sodeep["weights_epoch"]) == \
        (record["epochs_reached"], record["epochs_target"], record["best"]["epoch"])
    gru = get_strategy("l2r-gru-sorter")(params, Classification(), model, "cpu").weights_used()["sorter"]
    assert set(gru) == {"file", "sha256"}  # the gru kind's record counts steps, no epochs of a recipe


@pytest.mark.parametrize("profile, smoke, length", [("cifar10-paper", "cifar10-smoke", 64),
                                                    ("cifar10-ablations-paper", "cifar10-ablations", 64),
                                                    ("mpii-paper", "mpii-smoke", 32),
                                                    ("shanghaitech-paper", "shanghaitech-smoke", 4)])
def test_a_paper_profile_announces_its_short_trained_sorter_and_no_other_profile_does(profile, smoke, length, caplog):
    import json

    from helpers import ROOT
    from l2ral_lib.checks import load_params
    from l2ral_lib.sorter import weights_path
    from l2ral_lib.strategies.loss_head import announce_sorter_training

    record = json.loads(weights_path(length, "sodeep").with_suffix(".json").read_text())
    with caplog.at_level("WARNING", logger="l2ral_lib"):
        line = announce_sorter_training(load_params(ROOT / "params" / f"{profile}.yaml"))
    assert caplog.messages == [line]
    assert f"sodeep-{length} trained {record['epochs_reached']:.2f} of its recipe's 400 epochs at constant lr 0.001" \
        in line
    assert announce_sorter_training(load_params(ROOT / "params" / f"{smoke}.yaml")) is None
