"""What LL4AL, L2R-AL and the ablations share (strategies/loss_head.py): each method's head and
objective, where its gradient reaches the target, the head optimiser, the sorter it records,
and what each loss head selects."""
import numpy as np
import pytest
import torch

from helpers import ROOT, forward, query, top
from l2ral_lib.heads import L2RHead, LossNet
from l2ral_lib.losses import (DIFFSORT_STEEPNESS, RANK_LOSSES, SOFTRANK_TAU, diffsort_loss, loss_mse,
                              margin_ranking_loss, ranking_loss, softrank_loss)
from l2ral_lib.models.resnet import SmallImageResNet
from l2ral_lib.sorter import load_sorter


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
    """l2r-joint is l2r (same head, same sorter loss, same value) whose ranking gradient
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


# The method -> (head, objective, sorter kind) table, each objective computed here from losses.py
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


def test_heads_are_built_with_the_params_width_and_record_their_sorter():
    """head_hidden reaches the L2R head; a study records the hash of the sorter kind it trains with."""
    from l2ral_lib.checks import load_params
    from l2ral_lib.sorter import weights_hash
    from l2ral_lib.strategies import get_strategy
    from l2ral_lib.tasks import Classification
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


# ---------------------------------------------------------------- how far the shipped sorters were trained

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


def test_the_announcement_names_each_short_sorter_with_its_learning_rates_and_no_finished_one(monkeypatch):
    """One sorter finished (no word of it), one short at a decayed rate (its rate range), one without a
    record of epochs (no word): the line as a whole."""
    from l2ral_lib.checks import load_params
    from l2ral_lib.strategies import loss_head

    records = {"sodeep": {"epochs_trained": 12.5, "epochs_target": 400, "weights_epoch": 11.0, "lrs": [1e-4, 5e-4, 1e-3]},
               "gru": {"epochs_trained": 400, "epochs_target": 400, "weights_epoch": 390.0, "lrs": [1e-3]}}
    monkeypatch.setattr(loss_head, "sorter_training", lambda length, kind: records.get(kind, {}))
    params = load_params(ROOT / "params" / "cifar10-paper.yaml", {"strategies": ["l2r", "l2r-gru-sorter"]})
    assert loss_head.announce_sorter_training(params) == (
        "cifar10-paper: a paper profile, but its sorter is not the paper's 400-epoch one: sodeep-64 trained 12.50 of"
        " its recipe's 400 epochs at lr 0.001..0.0001 (weights of epoch 11.00) (FIDELITY.md; recorded in each"
        " slice's provenance.json)")
    records["gru"]["epochs_trained"] = 150
    assert loss_head.announce_sorter_training(params).split("one: ", 1)[1].rsplit(" (FIDELITY", 1)[0] == (
        "sodeep-64 trained 12.50 of its recipe's 400 epochs at lr 0.001..0.0001 (weights of epoch 11.00); gru-64"
        " trained 150.00 of its recipe's 400 epochs at constant lr 0.001 (weights of epoch 390.00)")
    records.clear()
    assert loss_head.announce_sorter_training(params) is None


def test_sorters_used_are_those_of_the_methods_ranking_through_a_sorter():
    """eq. 6 through a sorter: L2R-AL and its all-features variant share one, the GRU variant has its own;
    LL4AL's margin and the analytic relaxations use none."""
    from l2ral_lib.checks import load_params
    from l2ral_lib.strategies.loss_head import sorters_used

    params = load_params(ROOT / "params" / "cifar10-ci.yaml",
                         {"strategies": ["random", "ll4al", "l2r-softrank", "l2r", "l2r-gru-sorter", "l2r-all-features",
                                         "l2r-diffsort"]})
    assert sorters_used(params) == [(params.sorter_kind, params.batch_size), ("gru", params.batch_size)]
    assert params.sorter_kind != "gru"


def l2r_head_by_hand(head, features) -> np.ndarray:
    """GAP -> FC -> LeakyReLU(0.01) -> FC on the last block (paper Sec. III-C), in numpy."""
    w1, b1, w2, b2 = (t.detach().double().numpy() for t in (head.fc1.weight, head.fc1.bias, head.fc2.weight, head.fc2.bias))
    hidden = features[-1].double().numpy().mean((2, 3)) @ w1.T + b1
    return (np.where(hidden > 0, hidden, 0.01 * hidden) @ w2.T + b2)[:, 0]


def lossnet_by_hand(head, features) -> np.ndarray:
    """Per block GAP -> FC -> ReLU, concatenated, FC -> 1 (LL4AL), in numpy."""
    pooled = [np.maximum(f.double().numpy().mean((2, 3)) @ fc.weight.detach().double().numpy().T
                         + fc.bias.detach().double().numpy(), 0) for fc, f in zip(head.fcs, features)]
    w, b = head.out.weight.detach().double().numpy(), head.out.bias.detach().double().numpy()
    return (np.concatenate(pooled, 1) @ w.T + b)[:, 0]


@pytest.mark.parametrize("method, by_hand", [("l2r", l2r_head_by_hand), ("l2r-mse", l2r_head_by_hand),
                                             ("ll4al", lossnet_by_hand), ("l2r-all-features", lossnet_by_hand)])
def test_loss_heads_take_the_highest_predicted_loss(trained, method, by_hand):
    head = trained[3][method][1].head
    assert query(trained, method) == top(by_hand(head, forward(trained, method).features))


def _target_grad_of_ll4al(method, params, epoch):
    """(LL4AL's head loss, the grad it leaves on the target's first conv) for one batch, same weights each call."""
    from l2ral_lib.strategies import get_strategy
    from l2ral_lib.tasks import Classification

    torch.manual_seed(0)
    model = SmallImageResNet(width=4)
    strategy = get_strategy(method)(params, Classification(), model, "cpu")
    strategy.begin_cycle()
    out = model(torch.randn(params.batch_size, 3, 32, 32, generator=torch.Generator().manual_seed(9)))
    loss = strategy.head_loss(out, torch.rand(params.batch_size, generator=torch.Generator().manual_seed(10)) * 3,
                              epoch=epoch)
    loss.backward()
    return loss.item(), model.conv1.weight.grad


@pytest.mark.parametrize("early", [1, 3])
def test_ll4al_early_detach_is_ll4al_detaching_at_its_own_epoch(ci_params, early):
    """The sensitivity variant: LL4AL's loss exactly, its gradient into the target until
    ll4al_early_detach_epoch (not ll4al_detach_epoch), none from then on."""
    params = ci_params(epochs=4, ll4al_detach_epoch=2, ll4al_early_detach_epoch=early, lr_milestones=[4])
    for epoch in range(4):
        loss, grad = _target_grad_of_ll4al("ll4al-early-detach", params, epoch)
        reference, reference_grad = _target_grad_of_ll4al("ll4al", params, epoch)
        assert loss == reference
        reaches = grad is not None and grad.abs().sum() > 0
        assert reaches == (epoch < early), epoch
        assert (reference_grad is not None and reference_grad.abs().sum() > 0) == (epoch < 2)


def test_ll4al_early_detach_needs_its_epoch_within_the_epochs(ci_params):
    from l2ral_lib.errors import ParamsError
    from l2ral_lib.strategies import get_strategy

    epochs = ci_params().epochs
    get_strategy("ll4al-early-detach").check_params(ci_params(ll4al_early_detach_epoch=epochs))
    for bad in (None, epochs + 1):
        with pytest.raises(ParamsError, match="ll4al_early_detach_epoch"):
            get_strategy("ll4al-early-detach").check_params(ci_params(ll4al_early_detach_epoch=bad))
