"""The labeling round trip (labeling.py, `python -m l2ral_lib query`): the picks come from the pool in its
order and the study's randomness rule, a round trip labels them from a ground truth and queries again,
the same inputs give the same picks, and every bad input is refused in one line before any training,
writing nothing."""
import csv
import re

import pytest
import torch

from l2ral_lib import labeling
from l2ral_lib.__main__ import main
from l2ral_lib.data.generated import make_photos
from l2ral_lib.seeds import query_subset


@pytest.fixture
def photos(tmp_path):
    """Images in two sub-folders (the pool takes both), their ground truth, and 9 of them labeled."""
    truth = {f"a/{k}": v for k, v in make_photos(tmp_path / "photos" / "a", per_class=5, seed=1).items()}
    truth.update({f"b/{k}": v for k, v in make_photos(tmp_path / "photos" / "b", per_class=5, seed=2).items()})
    (tmp_path / "photos" / "readme.txt").write_text("not an image: not in the pool")
    labeled = sorted(truth)[:9]  # three of each class
    write_labels(tmp_path / "labels.csv", {path: truth[path] for path in labeled})
    return tmp_path, truth


def write_labels(path, labels: dict):
    path.write_text("path,label\n" + "".join(f"{p},{label}\n" for p, label in labels.items()))


def read_rows(path):
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


def run(tmp_path, out, *extra, strategy="entropy", budget=6):
    return main(["query", "--images", str(tmp_path / "photos"), "--labels", str(tmp_path / "labels.csv"),
                 "--budget", str(budget), "--strategy", strategy, "--out", str(tmp_path / out), "--device", "cpu",
                 "--no-progress", "--set", "epochs=2", *extra])


def test_round_trip_picks_new_images_each_time_and_repeats_under_a_seed(photos):
    tmp_path, truth = photos
    assert run(tmp_path, "next.csv") == 0
    first = read_rows(tmp_path / "next.csv")
    labeled = {row["path"] for row in read_rows(tmp_path / "labels.csv")}
    picked = [row["path"] for row in first]
    assert len(set(picked)) == 6 and not set(picked) & labeled and set(picked) <= set(truth)
    assert [row["rank"] for row in first] == [str(k) for k in range(1, 7)]
    scores = [float(row["score"]) for row in first]
    assert scores == sorted(scores, reverse=True)  # entropy: the highest first
    assert all(0 < s <= torch.log(torch.tensor(3.0)).item() + 1e-6 for s in scores)  # entropies of 3 classes
    assert run(tmp_path, "again.csv") == 0
    assert (tmp_path / "again.csv").read_text() == (tmp_path / "next.csv").read_text()
    # "label" the picks from the ground truth and ask again
    with open(tmp_path / "labels.csv", "a") as handle:
        handle.writelines(f"{path},{truth[path]}\n" for path in picked)
    assert run(tmp_path, "next2.csv") == 0
    second = [row["path"] for row in read_rows(tmp_path / "next2.csv")]
    assert len(set(second)) == 6 and not set(second) & (labeled | set(picked))


def test_the_pool_is_every_image_in_path_order_and_random_follows_the_seed_rule(photos, capsys):
    tmp_path, truth = photos
    assert run(tmp_path, "next.csv", "--seed", "3", strategy="random", budget=5) == 0
    pool = sorted(truth)  # relative paths, both sub-folders, the text file left out
    labeled = [pool.index(row["path"]) for row in read_rows(tmp_path / "labels.csv")]
    expected = query_subset(3, 0, torch.tensor(labeled), len(pool), None)[:5]
    rows = read_rows(tmp_path / "next.csv")
    assert [row["path"] for row in rows] == [pool[i] for i in expected]
    assert [row["score"] for row in rows] == [""] * 5  # random has no scores
    assert capsys.readouterr().out.strip() == (f"{tmp_path / 'next.csv'}: the 5 of {len(pool) - 9} unlabeled images"
                                               " random picks (trained on 9 labeled images of 3 classes, seed 3)")


def test_classes_give_an_output_to_a_class_nobody_labeled_yet(photos, capsys):
    """--classes naming exactly the labels there are changes nothing; a fourth class, not labeled yet, is a
    fourth output of the model: entropies can exceed the three classes' maximum log 3 (never log 4)."""
    tmp_path, _ = photos
    assert run(tmp_path, "next.csv") == 0
    assert run(tmp_path, "same.csv", "--classes", "blue,green,red") == 0
    assert (tmp_path / "same.csv").read_text() == (tmp_path / "next.csv").read_text()
    capsys.readouterr()
    assert run(tmp_path, "four.csv", "--classes", "red,green,blue,violet", budget=21) == 0
    assert "labeled images of 4 classes" in capsys.readouterr().out
    scores = [float(row["score"]) for row in read_rows(tmp_path / "four.csv")]
    assert max(scores) > torch.log(torch.tensor(3.0)).item() and max(scores) <= torch.log(torch.tensor(4.0)).item() + 1e-6


def test_a_subset_limits_the_candidates_to_the_seeded_random_part(photos):
    tmp_path, truth = photos
    assert run(tmp_path, "next.csv", "--subset", "8", budget=3) == 0
    pool = sorted(truth)
    labeled = [pool.index(row["path"]) for row in read_rows(tmp_path / "labels.csv")]
    candidates = {pool[i] for i in query_subset(0, 0, torch.tensor(labeled), len(pool), 8).tolist()}
    assert {row["path"] for row in read_rows(tmp_path / "next.csv")} <= candidates


def test_params_file_and_set_change_the_defaults(photos, monkeypatch):
    tmp_path, _ = photos
    seen = {}
    real = labeling.train_cycle

    def spy(model, strategy, data, task, labeled, params, **kwargs):
        seen.update(epochs=params.epochs, width=params.model_width, milestones=params.lr_milestones,
                    size=tuple(data.train_images.shape[-2:]))
        return real(model, strategy, data, task, labeled, params, **kwargs)

    monkeypatch.setattr(labeling, "train_cycle", spy)
    # a study's profile may hold a seed plan for its other methods: one query has no plan
    (tmp_path / "mine.yaml").write_text("model_width: 8\nimage_size: 16\nepochs: 4\nstrategy_seeds: {coreset: 2}\n")
    assert run(tmp_path, "next.csv", "--params", str(tmp_path / "mine.yaml"), "--set", "epochs=5") == 0
    # the file over the defaults, --set over the file, the lr step at 0.8 of the epochs unless given
    assert seen == {"epochs": 5, "width": 8, "milestones": [4], "size": (16, 16)}


BAD = {  # what is wrong -> (prepare it, the one line)
    "label path missing": (lambda t: write_labels(t / "labels.csv", {"a/photo_000.png": "red", "nope.png": "red"}),
                           "labels.csv line 3: image 'nope.png' not found under"),
    "empty label": (lambda t: (t / "labels.csv").write_text("path,label\na/photo_000.png,red\na/photo_001.png,\n"),
                    "labels.csv line 3: no label for 'a/photo_001.png'"),
    "missing label cell": (lambda t: (t / "labels.csv").write_text("path,label\na/photo_000.png\n"),
                           "labels.csv line 2: no label for 'a/photo_000.png'"),
    "malformed header": (lambda t: (t / "labels.csv").write_text("image;class\na/photo_000.png;red\n"),
                         "labels.csv: the header must name the columns path and label \\(got image;class\\)"),
    "no labels yet": (lambda t: (t / "labels.csv").write_text("path,label\n"), "labels.csv lists no labeled images"),
    "label not an image": (lambda t: write_labels(t / "labels.csv", {"readme.txt": "red"}),
                           "labels.csv line 2: 'readme.txt' is not an image file Pillow reads"),
    "label outside the pool": (lambda t: (make_photos(t / "elsewhere", per_class=1),
                                          write_labels(t / "labels.csv", {"../elsewhere/photo_000.png": "red"})),
                               "labels.csv: '../elsewhere/photo_000.png' is not an image of the pool under"),
    "empty folder": (lambda t: [p.unlink() for p in (t / "photos").rglob("*.*")], "photos holds no images"),
    "budget above the unlabeled": (lambda t: None, "params: --budget: 22 images asked for, and .*photos holds 21"
                                                   " unlabeled ones"),
    "unknown strategy": (lambda t: None, "params: --strategy: unknown strategy 'entropie' \\(did you mean 'entropy'"),
    "oracle strategy": (lambda t: None, "params: --strategy: oracle-loss reads the labels of the unlabeled images"),
    "subset below budget": (lambda t: None, "params: --subset: \\(4\\) is smaller than --budget"),
    "too few labeled for the sorter": (lambda t: None, "params: batch_size: l2r trains its head through the sorter on"
                                                       " full batches of 32, and 9 images are labeled"),
    "bad --set": (lambda t: None, "params: epochs: must be > 0, got 0"),
    "label not in --classes": (lambda t: write_labels(t / "labels.csv", {"a/photo_000.png": "red", "a/photo_001.png": "gren"}),
                               "labels.csv: the label 'gren' of 'a/photo_001.png' is not one of --classes"
                               " \\(red,green,blue\\): correct it, or add it to --classes"),
    "class named twice": (lambda t: None, "params: --classes: 'red,green,red' must name each class once"),
    "out is the labels file": (lambda t: None, "params: --out: .*labels.csv is the labels file"),
    "out in no folder": (lambda t: None, "params: --out: .*absent is no folder to write next.csv into"),
}
ARGUMENTS = {"budget above the unlabeled": ["--budget", "22"], "unknown strategy": ["--strategy", "entropie"],
             "oracle strategy": ["--strategy", "oracle-loss"], "subset below budget": ["--subset", "4"],
             "too few labeled for the sorter": ["--strategy", "l2r"], "bad --set": ["--set", "epochs=0"],
             "label not in --classes": ["--classes", "red,green,blue"], "class named twice": ["--classes", "red,green,red"],
             "out is the labels file": ["--out", "labels.csv"], "out in no folder": ["--out", "absent/next.csv"]}


@pytest.mark.parametrize("case", list(BAD))
def test_bad_input_is_one_line_before_training_and_writes_nothing(photos, case, capsys, monkeypatch):
    tmp_path, _ = photos
    prepare, message = BAD[case]
    prepare(tmp_path)
    monkeypatch.setattr(labeling, "train_cycle", lambda *a, **k: pytest.fail("trained despite bad input"))
    monkeypatch.chdir(tmp_path)
    labels_before = (tmp_path / "labels.csv").read_text()
    assert main(["query", "--images", "photos", "--labels", "labels.csv", "--budget", "6", "--strategy", "entropy",
                 "--out", "next.csv", "--device", "cpu", *ARGUMENTS.get(case, [])]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: ")
    assert re.search(message, err), err
    assert not (tmp_path / "next.csv").exists() and (tmp_path / "labels.csv").read_text() == labels_before
