"""Registries (registry.py): built-ins by decorator; other installed packages' components through the entry
points `l2ral.strategies`, `l2ral.datasets` and `l2ral.models`, loaded when a registry is first consulted,
checked against the name they register, a broken one said in one line naming the entry point and the group.
An installed example package, `--jobs` workers included: e2e/test_plugin_example.py."""
import contextlib
import io
import itertools
import sys
import textwrap

import pytest

from l2ral_lib import registry
from l2ral_lib.__main__ import main
from l2ral_lib.data import DATASETS, get_dataset, list_datasets
from l2ral_lib.models import MODELS, list_models
from l2ral_lib.strategies import get_strategy, list_strategies
from l2ral_lib.strategies.base import STRATEGIES

REGISTRIES = (STRATEGIES, DATASETS, MODELS)
_modules = itertools.count()


@pytest.fixture
def fresh(monkeypatch):
    """The three registries as a new process has them: built-ins registered, no plugin loaded yet. Their
    state and the record of loaded plugins come back after the test."""
    for reg in REGISTRIES:
        monkeypatch.setattr(reg, "_items", dict(reg._items))
        monkeypatch.setattr(reg, "_plugins_loaded", False)
    saved = {group: dict(found) for group, found in registry.LOADED.items()}
    yield
    registry.LOADED.clear()
    registry.LOADED.update(saved)


@pytest.fixture
def install(tmp_path, monkeypatch):
    """install(code, entry_points) -> the module name: a distribution `fakeplug 1.0` on sys.path whose one
    module holds `code` and whose entry_points.txt is `entry_points` with {module} filled in."""
    def make(code: str, entry_points: str) -> str:
        module = f"fakeplug_{next(_modules)}_{tmp_path.name}".replace("-", "_")
        site = tmp_path / module
        (site / "fakeplug-1.0.dist-info").mkdir(parents=True)
        (site / "fakeplug-1.0.dist-info" / "METADATA").write_text("Metadata-Version: 2.1\nName: fakeplug\nVersion: 1.0\n")
        (site / "fakeplug-1.0.dist-info" / "entry_points.txt").write_text(
            textwrap.dedent(entry_points).format(module=module))
        (site / f"{module}.py").write_text(textwrap.dedent(code))
        monkeypatch.syspath_prepend(str(site))
        return module
    return make


def cli(*args):
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(list(args))
    return code, out.getvalue(), err.getvalue()


THREE_KINDS = """
    from l2ral_lib.data import register_dataset
    from l2ral_lib.models import register_model
    from l2ral_lib.strategies import ScoreStrategy, register_strategy

    @register_strategy("fake-strategy")
    class FakeStrategy(ScoreStrategy):
        pass

    @register_dataset("fake-dataset")
    class FakeDataset:
        task = "classification"

    @register_model("fake-model")
    def build(params, data):
        return None
"""


def test_plugins_of_each_group_join_their_registry_under_the_entry_points_name(fresh, install):
    module = install(THREE_KINDS, """
        [l2ral.strategies]
        fake-strategy = {module}:FakeStrategy
        [l2ral.datasets]
        fake-dataset = {module}:FakeDataset
        [l2ral.models]
        fake-model = {module}
    """)
    assert module not in sys.modules  # nothing is imported before a registry is consulted
    assert "fake-strategy" in list_strategies() and "fake-dataset" in list_datasets() and "fake-model" in list_models()
    plugin = sys.modules[module]
    assert get_strategy("fake-strategy") is plugin.FakeStrategy and get_strategy("fake-strategy").name == "fake-strategy"
    assert get_dataset("fake-dataset") is plugin.FakeDataset and MODELS.get("fake-model") is plugin.build
    assert {"random", "l2r", "cifar10", "resnet18"} <= set(list_strategies() + list_datasets() + list_models())
    code, out, _ = cli("list")
    assert code == 0
    assert "\nplugins:    fake-dataset (l2ral.datasets, fakeplug 1.0), fake-model (l2ral.models, fakeplug 1.0)," \
           " fake-strategy (l2ral.strategies, fakeplug 1.0)\n" in out
    assert registry.LOADED == {"l2ral.datasets": {"fake-dataset": "fakeplug 1.0"}, "l2ral.models": {"fake-model": "fakeplug 1.0"},
                               "l2ral.strategies": {"fake-strategy": "fakeplug 1.0"}}


def test_each_registry_loads_its_group_once_at_its_first_consultation(fresh, install, monkeypatch):
    install(THREE_KINDS, """
        [l2ral.strategies]
        fake-strategy = {module}:FakeStrategy
    """)
    asked = []
    real = registry.entry_points
    monkeypatch.setattr(registry, "entry_points", lambda group: asked.append(group) or real(group=group))
    assert "fake-strategy" in STRATEGIES  # `in` consults too
    STRATEGIES.get("fake-strategy")
    STRATEGIES.names()
    assert asked == ["l2ral.strategies"]
    assert "fake-dataset" in DATASETS  # registered by the module the strategy's import ran, no entry point needed
    assert asked == ["l2ral.strategies", "l2ral.datasets"]


def test_without_plugins_the_listing_has_no_plugin_line(fresh):
    code, out, _ = cli("list")
    assert code == 0 and "plugins:" not in out


@pytest.mark.parametrize("code,entry,message", [
    ("", "broken = {module}.missing:Thing",
     "failed to load: ModuleNotFoundError: No module named '{module}.missing'; '{module}' is not a package"),
    ("raise RuntimeError('needs a GPU\\n to import')", "broken = {module}",
     "failed to load: RuntimeError: needs a GPU to import"),
    ("""
     from l2ral_lib.strategies import ScoreStrategy, register_strategy

     @register_strategy("margin")
     class Margin(ScoreStrategy):
         pass
     """, "broken = {module}:Margin", "failed to load: ValueError: strategy 'margin' is registered twice"),
    ("""
     from l2ral_lib.strategies import ScoreStrategy, register_strategy

     @register_strategy("other-name")
     class Other(ScoreStrategy):
         pass
     """, "broken = {module}:Other",
     "registered no strategy named 'broken'; it registered 'other-name': the entry point's name must be the"
     " registered one"),
    ("class Unregistered:\n    pass\n", "broken = {module}:Unregistered",
     "registered no strategy named 'broken'; importing {module}:Unregistered registered nothing (register it with"
     " the decorator of the strategy registry in that module)"),
    ("""
     from l2ral_lib.strategies import ScoreStrategy, register_strategy

     class Base(ScoreStrategy):
         pass

     @register_strategy("broken")
     class Registered(Base):
         pass
     """, "broken = {module}:Base", "names <class '{module}.Base'>, but 'broken' is registered to"
                                   " <class '{module}.Registered'>"),
], ids=["missing-module", "import-raises", "name-of-a-built-in", "another-name", "registers-nothing", "another-object"])
def test_a_broken_plugin_is_one_line_naming_the_entry_point_and_the_group(fresh, install, code, entry, message):
    module = install(code + "\n", f"[l2ral.strategies]\n{entry}\n")
    status, out, err = cli("list")
    value = entry.split(" = ")[1].format(module=module)
    assert (status, out) == (2, "")
    assert err == (f"error: plugin broken = {value} (entry point of fakeplug 1.0 in group l2ral.strategies)"
                   f" {message.format(module=module)}\n")


def test_a_broken_plugin_does_not_keep_the_others_out(fresh, install):
    """The first failure is raised at the first consultation; every other plugin of the group is loaded,
    and the registry answers afterwards without the broken one."""
    install(THREE_KINDS, """
        [l2ral.strategies]
        a-broken = {module}.missing:Thing
        fake-strategy = {module}:FakeStrategy
    """)
    with pytest.raises(registry.PluginError, match="^plugin a-broken = "):
        STRATEGIES.names()
    assert "fake-strategy" in STRATEGIES.names() and "a-broken" not in STRATEGIES.names()
