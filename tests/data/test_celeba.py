"""CelebA loading (official layout without identity/bbox/landmark files), the split rules, label-file
errors, and one tiny end-to-end study on the celeba-ci profile over a generated folder."""
from pathlib import Path

import pytest
import torch

from helpers import MALE, ROOT, make_celeba
from l2ral_lib.checks import load_params
from l2ral_lib.config import resolve_yaml
from l2ral_lib.data import DataError, load_dataset
from l2ral_lib.data.celeba import carve_split
from l2ral_lib.sorter import available_sorter_lengths


def params_for(root: Path, **overrides):
    """The ci profile over `root`; loader tests use one strategy, so they need no shipped sorter weights."""
    return load_params(ROOT / "params" / "celeba-ci.yaml", {"data_root": str(root), "strategies": ["random"], **overrides})


def test_official_split_labels_and_size(tmp_path):
    male = make_celeba(tmp_path)
    data = load_dataset(params_for(tmp_path), "cpu")
    assert data.split_kind == "official" and data.split_note.startswith("official split")
    # partition 0: images 1..30 less the absent #4 -> 29; partition 2: images 35..42 -> 8; validation unused
    assert (data.n_pool, data.n_test) == (29, 8)
    assert data.train_images.dtype == torch.uint8 and data.train_images.shape == (29, 3, 64, 64)
    assert data.test_images.shape == (8, 3, 64, 64)
    pool_names = [f"{i:06d}.jpg" for i in range(1, 31) if i != 4]
    test_names = [f"{i:06d}.jpg" for i in range(35, 43)]
    assert data.train_labels.tolist() == [male[n] for n in pool_names]
    assert data.test_labels.tolist() == [male[n] for n in test_names]
    # the generated male faces are brighter: the resized pixels kept the content
    brightness = data.train_images.float().mean((1, 2, 3))
    assert (brightness[data.train_labels == 1].min() > brightness[data.train_labels == 0].max())
    assert len(list((tmp_path / "celeba").glob(".l2ral-cache-celeba64-*.pt"))) == 1
    again = load_dataset(params_for(tmp_path), "cpu")  # from the cache
    assert torch.equal(again.train_images, data.train_images) and torch.equal(again.test_labels, data.test_labels)


def test_carved_split_without_test_partition_images(tmp_path, capsys):
    make_celeba(tmp_path, partitions=(0,) * 40 + (2,) * 5, absent=range(40, 45))
    data = load_dataset(params_for(tmp_path), "cpu")
    assert data.split_kind == "carved" and "carved split" in data.split_note
    assert "carved split" in capsys.readouterr().err  # the one-line notice
    assert (data.n_pool, data.n_test) == (32, 8)  # a fifth of the 40 present (at most 2,000)
    again = load_dataset(params_for(tmp_path), "cpu")
    assert torch.equal(again.test_images, data.test_images)  # a fixed split
    names = [f"{i:06d}.jpg" for i in range(1, 41)]
    pool, test = carve_split(names)
    assert not set(pool) & set(test) and sorted(pool + test) == names and len(test) == 8
    many = [f"{i:06d}.jpg" for i in range(1, 10001)]
    assert len(carve_split(many)[1]) == 2000  # the offline copy: 8,000 / 2,000


def test_malformed_attribute_file_names_file_and_line(tmp_path):
    make_celeba(tmp_path)
    path = tmp_path / "celeba" / "list_attr_celeba.txt"
    lines = path.read_text().splitlines()
    fields = lines[6].split()
    fields[MALE + 1] = "2"
    lines[6] = " ".join(fields)
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(DataError, match=r"list_attr_celeba\.txt, line 7"):
        load_dataset(params_for(tmp_path), "cpu")
    lines[6] = lines[6].rsplit(" ", 3)[0]  # truncated row
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(DataError, match=r"list_attr_celeba\.txt, line 7: expected an image name and 40 values"):
        load_dataset(params_for(tmp_path), "cpu")


def test_malformed_partition_file_names_file_and_line(tmp_path):
    make_celeba(tmp_path)
    path = tmp_path / "celeba" / "list_eval_partition.txt"
    lines = path.read_text().splitlines()
    lines[2] = "000003.jpg train"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(DataError, match=r"list_eval_partition\.txt, line 3"):
        load_dataset(params_for(tmp_path), "cpu")


def test_missing_folder_names_path_and_how_to_get_it(tmp_path):
    with pytest.raises(DataError, match="make data-offline") as error:
        load_dataset(params_for(tmp_path / "nowhere"), "cpu")
    assert str(tmp_path / "nowhere" / "celeba") in str(error.value)
    make_celeba(tmp_path)
    (tmp_path / "celeba" / "list_eval_partition.txt").unlink()
    with pytest.raises(DataError, match="list_eval_partition.txt"):
        load_dataset(params_for(tmp_path), "cpu")


def test_profiles_state_the_paper_setting_and_validate():
    paper = resolve_yaml(ROOT / "params" / "celeba-paper.yaml")
    assert {k: paper[k] for k in ("dataset", "model", "initial_labeled", "query_size", "max_labeled", "subset_size",
                                  "epochs", "lr", "lr_milestones", "batch_size", "vaal_latent_dim", "seeds")} == {
        "dataset": "celeba", "model": "resnet18", "initial_labeled": 100, "query_size": 100, "max_labeled": 1000,
        "subset_size": 20000, "epochs": 100, "lr": 0.1, "lr_milestones": [80], "batch_size": 64,
        "vaal_latent_dim": 64, "seeds": [0, 1, 2, 3, 4]}
    smoke = resolve_yaml(ROOT / "params" / "celeba-smoke.yaml")
    assert set(smoke["strategies"]) == {"random", "entropy", "coreset", "vaal", "ll4al", "l2r"}
    if 64 not in available_sorter_lengths():
        pytest.skip("no shipped length-64 sorter yet: the paper and smoke profiles cannot validate")
    for profile in ("paper", "smoke"):
        load_params(ROOT / "params" / f"celeba-{profile}.yaml")


def test_study_runs_end_to_end_on_ci_profile(tmp_path):
    from l2ral_lib.loop import run_study

    make_celeba(tmp_path / "data")
    params = load_params(ROOT / "params" / "celeba-ci.yaml", {"data_root": str(tmp_path / "data")})
    table = run_study(params, "cpu", tmp_path / "out", progress=False)
    accuracy = table[table.metric == "accuracy"]
    assert set(accuracy.method) == set(params.strategies)
    assert sorted(accuracy.n_labeled.unique()) == [params.labeled_at(c) for c in range(params.n_cycles)]
    assert set(table.dataset) == {"celeba"} and accuracy.value.between(0, 100).all()
    assert (tmp_path / "out" / "results.csv").is_file()
