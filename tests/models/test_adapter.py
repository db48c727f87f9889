"""Any model by name (models/adapter.py): torchvision/<name> and <module>:<factory>, the stage maps and
embedding its hooks give the heads, one tiny study cycle through each path, one-line errors naming the key."""
import copy

import pytest
import torch
import torchvision
from torch import nn

from helpers import ROOT
from l2ral_lib.__main__ import main
from l2ral_lib.checks import check_study, load_params
from l2ral_lib.data import load_dataset
from l2ral_lib.data.generated import make_image_folder
from l2ral_lib.errors import ParamsError
from l2ral_lib.loop import run_study
from l2ral_lib.models import ModelOutput, build_model
from l2ral_lib.models.adapter import Adapted

USER_MODELS = '''
import torch
from torch import nn

from l2ral_lib.models import ModelOutput


class SharedPool(nn.Module):
    """Logits only; one pooling module called twice, each call ending a stage."""

    def __init__(self, classes):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 4, 3, padding=1)
        self.conv2 = nn.Conv2d(4, 8, 3, stride=2, padding=1)
        self.pool = nn.MaxPool2d(2)
        self.fc1, self.fc2 = nn.Linear(8, 6), nn.Linear(6, classes)

    def forward(self, x):
        x = self.pool(self.conv2(self.pool(self.conv1(x))))
        return self.fc2(torch.relu(self.fc1(x.mean((2, 3)))))


class WithOutput(nn.Module):
    def __init__(self, classes):
        super().__init__()
        self.conv, self.fc = nn.Conv2d(3, 6, 3, stride=2, padding=1), nn.Linear(6, classes)

    def forward(self, x):
        maps = torch.relu(self.conv(x))
        embedding = maps.mean((2, 3))
        return ModelOutput(self.fc(embedding), [maps], embedding)


def logits(params, data):
    return SharedPool(data.num_classes)


def with_output(params, data):
    return WithOutput(data.num_classes)


def wrong_logits(params, data):
    return nn.Conv2d(3, 4, 3)


def no_maps(params, data):
    return nn.Sequential(nn.Flatten(), nn.Linear(3 * 32 * 32, data.num_classes))


def not_a_module(params, data):
    return "a model"


NOT_CALLABLE = 3
'''


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    folder = tmp_path_factory.mktemp("adapter")
    (folder / "own_models_for_tests.py").write_text(USER_MODELS)
    make_image_folder(folder / "tree", classes=3, train_per_class=10, test_per_class=2, size=32)
    return folder


@pytest.fixture
def params(root, monkeypatch):
    monkeypatch.syspath_prepend(str(root))

    def make(**overrides):
        return load_params(ROOT / "params" / "cifar10-ci.yaml",
                           {"dataset": "image-folder", "data_root": str(root / "tree"), "image_size": 32, "epochs": 1,
                            "ll4al_detach_epoch": 1, "lr_milestones": [1], "initial_labeled": 8, "query_size": 4,
                            "max_labeled": 12, "subset_size": 10, **overrides})
    return make


@pytest.fixture
def data(params):
    return load_dataset(params(), "cpu")


def inputs_of(data, n=3):
    return data.train_batch(torch.arange(n), augment=False)[0]


@pytest.mark.parametrize("size", [32, 64])
def test_torchvision_resnet18_reads_its_four_layers_and_the_fc_input(params, size):
    """At 64x64 the last layer is 2x2 and the global pooling 1x1: a pooling is no stage."""
    data = load_dataset(params(image_size=size), "cpu")
    model = build_model(params(model="torchvision/resnet18", image_size=size), data).eval()
    net = model.net
    assert isinstance(net, torchvision.models.ResNet) and net.fc.out_features == 3
    x = inputs_of(data)
    with torch.no_grad():
        out = model(x)
        h = net.maxpool(net.relu(net.bn1(net.conv1(x))))
        layers = []
        for layer in (net.layer1, net.layer2, net.layer3, net.layer4):
            h = layer(h)
            layers.append(h)
        assert all(torch.equal(a, b) for a, b in zip(out.features, layers)) and len(out.features) == 4
        assert out.features[-1].shape[-1] == size // 32
        assert torch.equal(out.embedding, torch.flatten(net.avgpool(h), 1))
        assert torch.equal(out.output, net(x))
    assert model.feature_channels == [64, 128, 256, 512]


def test_torchvision_mobilenet_stages_are_the_last_map_of_each_size(params, data):
    model = build_model(params(model="torchvision/mobilenet_v3_small"), data).eval()
    net = model.net
    x = inputs_of(data)
    with torch.no_grad():
        out, maps, h = model(x), [], x
        for block in net.features:
            h = block(h)
            maps.append(h)
        # 32x32 in: blocks 1 (8x8), 3 (4x4), 8 (2x2), 12 (1x1, the last conv) end the last four sizes
        assert [tuple(m.shape[-2:]) for m in maps] == [(16, 16), (8, 8), (4, 4), (4, 4)] + [(2, 2)] * 5 + [(1, 1)] * 4
        assert all(torch.equal(a, maps[i]) for a, i in zip(out.features, (1, 3, 8, 12))) and len(out.features) == 4
        # the embedding: the last Linear's input, the classifier's hidden layer
        assert torch.equal(out.embedding, net.classifier[:3](torch.flatten(net.avgpool(h), 1)))
    assert model.feature_channels == [16, 24, 48, 576]


def test_your_model_returning_logits_is_adapted_a_shared_module_by_call(params, data):
    model = build_model(params(model="own_models_for_tests:logits"), data).eval()
    assert isinstance(model, Adapted)
    net, x = model.net, inputs_of(data)
    with torch.no_grad():
        out = model(x)
        first = net.conv1(x)
        second = net.pool(first)
        third = net.conv2(second)
        fourth = net.pool(third)
        expected = [first, second, third, fourth]  # sizes 32, 16, 8, 4: the pool's first and second calls
        assert len(out.features) == 4 and all(torch.equal(a, b) for a, b in zip(out.features, expected))
        assert torch.equal(out.embedding, torch.relu(net.fc1(fourth.mean((2, 3)))))
    assert model.feature_channels == [4, 4, 8, 8]


def test_your_model_returning_model_output_is_used_as_it_is(params, data):
    model = build_model(params(model="own_models_for_tests:with_output"), data)
    assert type(model).__name__ == "WithOutput" and model.feature_channels == [6]


def test_a_deep_copy_keeps_its_own_maps(params, data):
    model = build_model(params(model="own_models_for_tests:logits"), data).eval()
    twin = copy.deepcopy(model)
    with torch.no_grad():
        twin.net.conv1.weight.add_(1.0)
        x = inputs_of(data)
        assert torch.equal(model(x).features[0], model.net.conv1(x))
        assert torch.equal(twin(x).features[0], twin.net.conv1(x))
        assert not torch.equal(model(x).features[0], twin(x).features[0])


@pytest.mark.parametrize("name", ["torchvision/resnet18", "torchvision/mobilenet_v3_small",
                                  "own_models_for_tests:logits", "own_models_for_tests:with_output"])
def test_each_model_path_runs_a_tiny_study(params, name, tmp_path):
    study = params(model=name, strategies=["l2r", "ll4al", "coreset"])
    table = run_study(study, "cpu", tmp_path / "study", progress=False)
    finals = table[(table.cycle == 1) & table.metric.isin(["accuracy", "spearman"])]
    assert len(finals) == 5 and finals.value.notna().all()  # accuracy of three methods, spearman of two heads


BAD_NAMES = {
    "resnet19": "model: unknown model 'resnet19' \\(did you mean 'resnet18'\\?\\); known: .*torchvision/<name>",
    "torchvision/resnet181": "model: unknown torchvision classification model 'resnet181' \\(did you mean 'resnet18'",
    "torchvision/vit_b_16": "model: torchvision/vit_b_16 is a transformer",
    "no_module_of_that_name:build": "model: cannot import module 'no_module_of_that_name' \\(ModuleNotFoundError",
    "own_models_for_tests:absent": "model: module 'own_models_for_tests' \\(.*\\) has no callable 'absent'",
    "own_models_for_tests:NOT_CALLABLE": "has no callable 'NOT_CALLABLE'",
    ":build": "model: ':build': expected <module>:<factory>",
}


@pytest.mark.parametrize("name", list(BAD_NAMES))
def test_a_bad_model_name_is_one_line_naming_the_key(params, name):
    with pytest.raises(ParamsError, match=BAD_NAMES[name]) as caught:
        params(model=name)
    assert "\n" not in str(caught.value)


UNFIT = {
    "own_models_for_tests:wrong_logits": "returns \\(2, 4, 30, 30\\) for a batch of 2; expected logits \\(2, 3\\)",
    "own_models_for_tests:no_maps": "returns no \\(B, C, H, W\\) feature maps",
    "own_models_for_tests:not_a_module": "returned str, not a torch.nn.Module",
    "torchvision/alexnet": "torchvision/alexnet does not run on the data's inputs \\(3, 32, 32\\): .*raise image_size",
}


@pytest.mark.parametrize("name", list(UNFIT))
def test_a_model_that_does_not_fit_the_data_stops_the_check(params, name, capsys):
    with pytest.raises(ParamsError, match="model: .*" + UNFIT[name]) as caught:
        check_study(params(model=name))
    assert "\n" not in str(caught.value)


def test_the_cli_check_says_it_in_one_line(params, root, capsys):
    args = ["check", str(ROOT / "params" / "cifar10-ci.yaml"), "--set", "dataset=image-folder",
            "--set", f"data_root={root / 'tree'}", "--set", "model=torchvision/resnet181"]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: params: model: unknown torchvision classification model") and err.count("\n") == 1


def test_added_dropout_is_refused(params):
    with pytest.raises(ParamsError, match="dropout: is the built-in models' dropout layer; torchvision/resnet18"):
        params(model="torchvision/resnet18", dropout=0.5)


def test_pretrained_weights_load_but_a_classifier_of_another_class_count(params, data, tmp_path):
    source = torchvision.models.resnet18(num_classes=7)
    torch.save(source.state_dict(), tmp_path / "weights.pt")
    model = build_model(params(model="torchvision/resnet18", pretrained=str(tmp_path / "weights.pt")), data)
    loaded = model.net.state_dict()
    assert all(torch.equal(loaded[k], v) for k, v in source.state_dict().items() if not k.startswith("fc."))
    assert loaded["fc.weight"].shape == (3, 512)  # the data's classes, initialised afresh
    torch.save(torchvision.models.mobilenet_v3_small().state_dict(), tmp_path / "other.pt")
    with pytest.raises(ParamsError, match="pretrained: .*other.pt does not fit this model"):
        build_model(params(model="torchvision/resnet18", pretrained=str(tmp_path / "other.pt")), data)


def test_model_output_is_what_heads_expect(params, data):
    """The ModelOutput contract every path keeps: logits (B, classes), (B, C, H, W) maps, (B, D) embedding."""
    for name in ("torchvision/resnet18", "own_models_for_tests:logits"):
        out = build_model(params(model=name), data)(inputs_of(data))
        assert isinstance(out, ModelOutput) and out.output.shape == (3, 3) and out.embedding.dim() == 2
        assert all(f.dim() == 4 for f in out.features)
        assert isinstance(build_model(params(model=name), data), nn.Module)


def test_a_forward_that_raised_half_way_leaves_nothing_behind(params, data):
    model = build_model(params(model="own_models_for_tests:logits"), data).eval()
    x, other = inputs_of(data), data.train_batch(torch.tensor([5, 6, 7]), augment=False)[0]
    with torch.no_grad():
        expected = model(other)
        handle = model.net.fc1.register_forward_pre_hook(lambda module, args: 1 / 0)  # after every map was kept
        with pytest.raises(ZeroDivisionError):
            model(x)
        handle.remove()
        again = model(other)
    assert all(torch.equal(a, b) for a, b in zip(again.features, expected.features))
    assert torch.equal(again.embedding, expected.embedding)
