"""Your own image data (data/own_images.py, data/streaming.py): the image-folder and image-csv layouts (any
class count, size and format, resized to image_size), their one-line errors, and the streamed path, which
gives a study the same numbers to the last digit as the device-resident one."""
import json
import shutil

import pytest
import torch
from PIL import Image

from helpers import ROOT
from l2ral_lib.checks import load_params
from l2ral_lib.config import Params
from l2ral_lib.data import DataError, load_dataset
from l2ral_lib.data.base import ImageClassificationData, exact_channel_statistics
from l2ral_lib.data.generated import make_image_folder, make_photos
from l2ral_lib.data.image_folder import decode_rgb
from l2ral_lib.data.own_images import held_on_device
from l2ral_lib.data.streaming import ImageFiles, StreamedImageData, read_batches
from l2ral_lib.errors import ParamsError
from l2ral_lib.loop import run_study
from l2ral_lib.models import build_model


def params_for(root, **overrides):
    return load_params(ROOT / "params" / "cifar10-ci.yaml",
                       {"dataset": "image-folder", "data_root": str(root), "image_size": 16, **overrides})


def mixed_tree(root):
    """train/ and test/ with classes given out of order, each image another size and format."""
    shapes = {"zebra": ((30, 20), "png", "RGB"), "ant": ((40, 40), "jpg", "RGB"), "moth": ((17, 23), "bmp", "RGB")}
    generator = torch.Generator().manual_seed(0)
    for split, count in (("train", 3), ("test", 1)):
        for name, ((w, h), suffix, mode) in shapes.items():
            (root / split / name).mkdir(parents=True)
            for i in range(count):
                pixels = (torch.rand(h, w, 3, generator=generator) * 255).to(torch.uint8).numpy()
                Image.fromarray(pixels).convert(mode).save(root / split / name / f"{i}.{suffix}")
    # a grey GIF and a transparent PNG: other modes, converted to RGB
    Image.new("L", (9, 31), 77).save(root / "train" / "ant" / "grey.gif")
    Image.new("RGBA", (12, 12), (10, 20, 30, 0)).save(root / "train" / "moth" / "clear.png")
    (root / "train" / "ant" / "notes.txt").write_text("not an image: ignored")
    return root


def test_image_folder_reads_any_class_count_size_and_format(tmp_path):
    root = mixed_tree(tmp_path / "animals")
    data = load_dataset(params_for(root), "cpu")
    assert data.classes == ["ant", "moth", "zebra"] and data.num_classes == 3
    assert data.train_labels.tolist() == [0] * 4 + [1] * 4 + [2] * 3 and data.test_labels.tolist() == [0, 1, 2]
    assert data.train_images.shape == (11, 3, 16, 16) and data.test_images.shape == (3, 3, 16, 16)
    # each image decoded and resized to image_size, in sorted path order within its class
    files = sorted((root / "train" / "ant").glob("*.*"))
    assert [f.name for f in files if f.suffix != ".txt"] == ["0.jpg", "1.jpg", "2.jpg", "grey.gif"]
    assert torch.equal(data.train_images[3], decode_rgb(root / "train" / "ant" / "grey.gif", 16))
    assert torch.equal(data.train_images[3], torch.full((3, 16, 16), 77, dtype=torch.uint8))
    # the classifier's class count comes from the data
    assert build_model(params_for(root), data).linear.out_features == 3


def test_image_csv_reads_paths_and_label_names(tmp_path):
    truth = make_photos(tmp_path / "photos", per_class=4)
    rows = [f"photos/{path},{label}" for path, label in truth.items()]
    (tmp_path / "train.csv").write_text("path,label\n" + "\n".join(rows[:9]) + "\n")
    (tmp_path / "test.csv").write_text("label,path,note\n" + "\n".join(f"{r.split(',')[1]},{r.split(',')[0]},x"
                                                                     for r in rows[9:]) + "\n")
    data = load_dataset(params_for(tmp_path, dataset="image-csv", image_size=8), "cpu")
    assert data.classes == ["blue", "green", "red"]  # sorted label names
    names = list(truth.values())
    assert data.train_labels.tolist() == [data.classes.index(n) for n in names[:9]]
    assert data.test_labels.tolist() == [data.classes.index(n) for n in names[9:]]
    assert torch.equal(data.train_images[1], decode_rgb(tmp_path / "photos" / list(truth)[1], 8))


def write_csvs(root, train="path,label\na.png,x\n", test="path,label\na.png,x\n"):
    root.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (4, 4)).save(root / "a.png")
    (root / "train.csv").write_text(train)
    (root / "test.csv").write_text(test)
    return root


def small_tree(root):
    return make_image_folder(root, classes=2, train_per_class=2, test_per_class=1, size=8)


def without_test_split(root):
    shutil.rmtree(small_tree(root) / "test")
    return root


def with_test_only_class(root):
    (small_tree(root) / "test" / "class_09").mkdir()
    return root


def with_empty_class(root):
    (small_tree(root) / "train" / "class_05").mkdir()
    return root


def with_unreadable_image(root):
    (small_tree(root) / "train" / "class_01" / "0001.png").write_bytes(b"\x89PNG\r\n\x1a\n12")
    return root


BROKEN = {  # case: (make the data under a root, dataset, the error)
    "missing folder": (lambda root: root / "absent", "image-folder", "absent not found"),
    "missing test split": (without_test_split, "image-folder", "test not found"),
    "test class absent from train": (with_test_only_class, "image-folder",
                                     "test/class_09 is a class folder the training images lack"),
    "empty class": (with_empty_class, "image-folder", "class folder .*train/class_05 holds no images"),
    "unreadable image": (with_unreadable_image, "image-folder", "cannot decode image .*class_01/0001.png"),
    "csv header": (lambda root: write_csvs(root, train="file,class\na.png,x\n"), "image-csv",
                   "train.csv: the header must name the columns path and label \\(got file,class\\)"),
    "csv empty label": (lambda root: write_csvs(root, test="path,label\na.png,\n"), "image-csv",
                        "test.csv line 2: no label for 'a.png'"),
    "csv missing image": (lambda root: write_csvs(root, train="path,label\na.png,x\nb.png,y\n"), "image-csv",
                          "train.csv line 3: image 'b.png' not found under"),
    "csv path twice": (lambda root: write_csvs(root, train="path,label\na.png,x\na.png,y\n"), "image-csv",
                       "train.csv line 3: 'a.png' is listed twice \\(also line 2\\)"),
    "csv test label unknown": (lambda root: write_csvs(root, test="path,label\na.png,y\n"), "image-csv",
                               "test.csv: label 'y' has no training image"),
}


@pytest.mark.parametrize("case", list(BROKEN))
def test_broken_data_is_one_line_naming_the_path(tmp_path, case):
    make, dataset, message = BROKEN[case]
    root = make(tmp_path / "data")
    with pytest.raises(DataError, match=message) as caught:
        load_dataset(params_for(root, dataset=dataset), "cpu")
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize("dataset", ["image-folder", "image-csv"])
def test_data_root_is_required(dataset):
    with pytest.raises(ParamsError, match=f"data_root: {dataset} reads the folder data_root names"):
        load_params(ROOT / "params" / "cifar10-ci.yaml", {"dataset": dataset})


def test_stream_is_refused_where_the_dataset_cannot_stream(tiny_data_root):
    with pytest.raises(ParamsError, match="data_loading: cifar10 is held on the device"):
        load_params(ROOT / "params" / "cifar10-ci.yaml", {"data_root": str(tiny_data_root), "data_loading": "stream"})


def test_auto_streams_exactly_above_the_declared_size():
    params = Params(image_size=64, device_data_gib=0.5)
    fits = 2 ** 29 // (3 * 64 * 64)  # decoded bytes of the images that fit in 0.5 GiB
    assert held_on_device(params, fits) and not held_on_device(params, fits + 1)
    assert held_on_device(Params(data_loading="device", device_data_gib=1e-9), 10 ** 9)
    assert not held_on_device(Params(data_loading="stream"), 1)


@pytest.fixture(scope="module")
def tree(tmp_path_factory):
    return make_image_folder(tmp_path_factory.mktemp("own") / "tree", classes=4, train_per_class=12, test_per_class=3,
                             size=20)


def test_loading_picks_the_path_by_size(tree):
    resident = load_dataset(params_for(tree), "cpu")
    streamed = load_dataset(params_for(tree, device_data_gib=1e-6), "cpu")
    assert type(resident) is ImageClassificationData and isinstance(streamed, StreamedImageData)
    assert not hasattr(streamed, "train_images")  # the images stay files
    assert torch.equal(resident.normalise.mean, streamed.normalise.mean)
    assert torch.equal(resident.normalise.std, streamed.normalise.std)


def test_streamed_batches_equal_resident_batches_augmentation_included(tree):
    resident = load_dataset(params_for(tree, data_loading="device"), "cpu")
    streamed = load_dataset(params_for(tree, data_loading="stream", loader_workers=1), "cpu")
    batches = torch.randperm(resident.n_pool, generator=torch.Generator().manual_seed(3)).split(5)
    outputs, states = [], []
    for data in (resident, streamed):
        torch.manual_seed(7)
        outputs.append(list(data.train_batches(batches, augment=True)))
        states.append(torch.get_rng_state())
    for (a, la), (b, lb) in zip(*outputs):
        assert torch.equal(a, b) and torch.equal(la, lb)
    assert torch.equal(states[0], states[1])  # the same draws, no more
    # the augmentation did draw: unaugmented batches differ from them
    assert not torch.equal(outputs[0][0][0], resident.train_batch(batches[0], augment=False)[0])
    index = torch.tensor([4, 0, 9])
    assert torch.equal(resident.test_batch(index)[0], streamed.test_batch(index)[0])
    assert torch.equal(next(resident.test_batches([index]))[0], next(streamed.test_batches([index]))[0])


def test_reading_draws_nothing_from_the_global_generator(tree):
    files = ImageFiles(sorted((tree / "train").rglob("*.png")), 8)
    state = torch.get_rng_state()
    for workers in (0, 1):
        assert len(list(read_batches(files, [[0, 1], [2]], workers))) == 2
    assert torch.equal(torch.get_rng_state(), state)


def test_a_study_gives_the_same_numbers_streamed_or_on_the_device(tree, tmp_path):
    tables, picks = [], []
    for mode in ("device", "stream"):
        params = params_for(tree, data_loading=mode, loader_workers=1, strategies=["l2r", "coreset"],
                            initial_labeled=8, query_size=4, max_labeled=16, subset_size=20)
        table = run_study(params, "cpu", tmp_path / mode, progress=False)
        tables.append(table[~table.metric.str.startswith("time_")].reset_index(drop=True))
        picks.append({m: json.loads((tmp_path / mode / "slices" / f"{m}-seed0" / "selected.json").read_text())
                      for m in params.strategies})
    assert tables[0].equals(tables[1])  # every value to the last digit
    assert picks[0] == picks[1]
    assert set(tables[0].metric) >= {"accuracy", "spearman"}


def test_a_broken_image_met_by_a_worker_is_one_line(tmp_path):
    root = make_image_folder(tmp_path / "t", classes=2, train_per_class=3, test_per_class=2, size=8)
    broken = root / "test" / "class_01" / "0001.png"
    data = load_dataset(params_for(root, data_loading="stream", loader_workers=1), "cpu")
    broken.write_bytes(broken.read_bytes()[:30])  # broken after loading: met during evaluation
    with pytest.raises(DataError, match="cannot decode image .*class_01/0001.png") as caught:
        list(data.test_batches(torch.arange(data.n_test).split(2)))
    assert "\n" not in str(caught.value)


def test_exact_statistics_do_not_depend_on_the_batching():
    images = torch.randint(0, 256, (10, 3, 5, 7), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
    whole = exact_channel_statistics([images])
    for parts in (images.split(1), images.split(3), [images[:4], images[4:]]):
        split = exact_channel_statistics(parts)
        assert torch.equal(split[0], whole[0]) and torch.equal(split[1], whole[1])
    pixels = images.double().div(255).transpose(0, 1).flatten(1)
    assert torch.allclose(whole[0].double(), pixels.mean(1), atol=1e-7)
    assert torch.allclose(whole[1].double(), pixels.std(1), atol=1e-7)


def test_decoded_images_are_cached_beside_the_data(tree, monkeypatch):
    first = load_dataset(params_for(tree, image_size=12), "cpu")
    assert list(tree.glob(".l2ral-cache-*.pt"))

    def no_decoding(*args, **kwargs):
        raise AssertionError("decoded again")

    monkeypatch.setattr("l2ral_lib.data.streaming.decode_rgb", no_decoding)
    again = load_dataset(params_for(tree, image_size=12), "cpu")
    assert torch.equal(again.train_images, first.train_images)
