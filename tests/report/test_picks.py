"""Query diagnostics from stored picks (l2ral_lib.report.picks): numbers pinned by hand, figures drawn on a
tiny fake study (fake selected.json files over the generated CIFAR-like pool of conftest)."""
import json
import math

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import nbformat  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
import scipy.stats  # noqa: E402
import torch  # noqa: E402
from PIL import Image  # noqa: E402

from helpers import ROOT  # noqa: E402
from l2ral_lib.data import load_dataset  # noqa: E402
from l2ral_lib.data.mpii import crop_people  # noqa: E402
from l2ral_lib.data.shanghaitech import CrowdData  # noqa: E402
from l2ral_lib.outputs import StudyFolder  # noqa: E402
from l2ral_lib.report import picks as rp  # noqa: E402

LN = math.log


def write_slice(out, method, seed, selected: dict):
    folder = out / "slices" / f"{method}-seed{seed}"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "selected.json").write_text(json.dumps({str(c): list(map(int, v)) for c, v in selected.items()}))


# --- the picks table


def test_load_picks_keeps_methods_with_hyphens_cycle_zero_and_the_stored_order(tmp_path):
    write_slice(tmp_path, "l2r-all-features", 1, {0: [5, 1], 1: [9, 3, 7]})
    write_slice(tmp_path, "random", 0, {0: [5, 1], 1: [2], 2: [8]})
    (tmp_path / "slices" / "notes").mkdir()  # not a slice: ignored
    picks = rp.load_picks(tmp_path)
    assert list(picks.columns) == ["method", "seed", "cycle", "pool_index"]
    assert picks.values.tolist() == [  # paper order: Random before the ablation; stored order within a batch
        ["random", 0, 0, 5], ["random", 0, 0, 1], ["random", 0, 1, 2], ["random", 0, 2, 8],
        ["l2r-all-features", 1, 0, 5], ["l2r-all-features", 1, 0, 1], ["l2r-all-features", 1, 1, 9],
        ["l2r-all-features", 1, 1, 3], ["l2r-all-features", 1, 1, 7]]
    with pytest.raises(FileNotFoundError, match="selected.json"):
        rp.load_picks(tmp_path / "nothing")


# --- classification: histogram and balance, by hand

LABELS = np.array([2, 0, 1, 2, 0, 2, 1, 1, 0, 2])  # pool item i has class LABELS[i] (i != its class)


def known_picks():
    return pd.DataFrame([("m", 0, 1, i) for i in (0, 3, 5, 1)] + [("m", 0, 2, i) for i in (2, 6)]
                        + [("m", 1, 1, i) for i in (4, 8, 9)],
                        columns=["method", "seed", "cycle", "pool_index"])


def test_class_histogram_of_a_known_pick_list():
    hist = rp.class_histogram(known_picks(), LABELS, num_classes=4)
    counts = {(s, c, k): n for s, c, k, n in hist[["seed", "cycle", "class", "count"]].itertuples(index=False)}
    # seed 0 cycle 1 picks 0, 3, 5, 1 -> classes 2, 2, 2, 0; cycle 2 picks 2, 6 -> 1, 1; seed 1 cycle 1: 0, 0, 2
    assert counts == {(0, 1, 0): 1, (0, 1, 1): 0, (0, 1, 2): 3, (0, 1, 3): 0,
                      (0, 2, 0): 0, (0, 2, 1): 2, (0, 2, 2): 0, (0, 2, 3): 0,
                      (1, 1, 0): 2, (1, 1, 1): 0, (1, 1, 2): 1, (1, 1, 3): 0}
    table = rp.histogram_table(hist, ["a", "b", "c", "d"])
    assert table.loc[("m", 1)].tolist() == [1.5, 0.0, 2.0, 0.0, 2]  # mean over the two seeds, then the seed count
    assert table.loc[("m", 2)].tolist() == [0.0, 2.0, 0.0, 0.0, 1]
    with pytest.raises(ValueError, match="outside this dataset's pool of 10"):
        rp.class_histogram(known_picks().assign(pool_index=10), LABELS)


def test_balance_entropy_against_a_hand_computation_in_nats():
    bal = rp.balance(rp.class_histogram(known_picks(), LABELS, num_classes=4)).set_index(["seed", "cycle"])
    # counts (1, 0, 3, 0): p = 1/4, 3/4 -> -(0.25 ln 0.25 + 0.75 ln 0.75) = 0.562335 nats (0.811 bits)
    assert bal.loc[(0, 1), "entropy"] == pytest.approx(0.5623351446, abs=1e-9)
    assert bal.loc[(0, 1), "n_picks"] == 4
    assert bal.loc[(0, 2), "entropy"] == 0.0  # one class only
    assert bal.loc[(1, 1), "entropy"] == pytest.approx(-(2 / 3 * LN(2 / 3) + 1 / 3 * LN(1 / 3)))
    # the pool: 3 x class 0, 3 x class 1, 4 x class 2 -> -(2 x 0.3 ln 0.3 + 0.4 ln 0.4) = 1.0889000
    assert rp.pool_entropy(LABELS, 4) == pytest.approx(1.0888999753, abs=1e-9)
    assert rp.entropy_nats([5, 5, 5, 5]) == pytest.approx(LN(4)) and math.isnan(rp.entropy_nats([0, 0]))


# --- overlap, by hand


def test_jaccard_of_two_known_lists():
    assert rp.jaccard([1, 2, 3, 4], [3, 4, 5]) == pytest.approx(2 / 5)  # not Dice 4/7, not overlap 2/3
    assert rp.jaccard([1, 2], [3]) == 0.0 and rp.jaccard([7, 8], [8, 7]) == 1.0
    assert math.isnan(rp.jaccard([], []))
    assert rp.chance_jaccard(10, 30) == pytest.approx(10 / 50)


def test_jaccard_matrix_is_the_mean_over_seeds_of_each_seeds_mean_over_queried_cycles():
    rows = []
    def add(method, seed, cycle, items):  # noqa: E306
        rows.extend((method, seed, cycle, i) for i in items)
    for method in ("random", "entropy", "l2r"):
        add(method, 0, 0, [90, 91])  # the shared initial set: left out (it would add a Jaccard of 1)
        add(method, 1, 0, [90, 91])
    add("random", 0, 1, [1, 2, 3, 4]); add("entropy", 0, 1, [3, 4, 5]); add("l2r", 0, 1, [1, 2, 3, 4])  # noqa: E702
    add("random", 0, 2, [1, 2]); add("entropy", 0, 2, [3, 4]); add("l2r", 0, 2, [6, 7])  # noqa: E702
    add("random", 1, 1, [1, 2]); add("entropy", 1, 1, [1, 2])  # noqa: E702  seed 1: one cycle, no l2r
    picks = pd.DataFrame(rows, columns=["method", "seed", "cycle", "pool_index"])
    table = rp.jaccard_table(picks)
    assert set(table.cycle) == {1, 2}
    assert len(table) == 3 + 3 + 1  # seed 0: 3 pairs x 2 cycles; seed 1: one pair, one cycle
    first = table[(table.seed == 0) & (table.cycle == 1)].set_index(["method_a", "method_b"]).jaccard
    assert first.to_dict() == {("random", "entropy"): 0.4, ("random", "l2r"): 1.0, ("entropy", "l2r"): 0.4}
    matrix = rp.jaccard_matrix(table)
    # random-entropy: seed 0 mean of (0.4, 0) = 0.2, seed 1: 1.0 -> 0.6 (pooling the three values gives 0.467)
    assert matrix.loc["random", "entropy"] == matrix.loc["entropy", "random"] == pytest.approx(0.6)
    assert matrix.loc["random", "l2r"] == pytest.approx(0.5) and matrix.loc["l2r", "l2r"] == 1.0
    summary = rp.jaccard_summary(table).set_index(["method_a", "method_b"])
    low, high = scipy.stats.t.interval(0.95, 1, loc=0.6, scale=np.std([0.2, 1.0], ddof=1) / math.sqrt(2))
    assert summary.loc[("random", "entropy"), ["ci_low", "ci_high"]].tolist() == pytest.approx([low, high])
    assert summary.loc[("random", "l2r"), "n_seeds"] == 1 and math.isnan(summary.loc[("random", "l2r"), "ci_low"])
    overlap = rp.method_overlap(table, "random", 1)  # Random's batch at cycle 1 against the others, per seed
    assert overlap.loc["Entropy"].tolist() == [0.4, 1.0]
    assert overlap.loc["L2R-AL", 0] == 1.0 and math.isnan(overlap.loc["L2R-AL", 1])
    text = rp.jaccard_text_table(table)
    assert text.loc["Random", "Entropy"] == f"0.600  [{low:.4g}, {high:.4g}]"
    assert text.loc["Random", "L2R-AL"] == "0.500  n/a (1 seed)"


# --- a tiny fake study over the generated pool (120 images, class k = items 12k .. 12k + 11)


def fake_selected():
    """{(method, seed): {cycle: indices}}, 10 picks per queried cycle, chosen so that every number is known."""
    initial = {0: list(range(0, 120, 6)), 1: list(range(3, 120, 6))}
    picks = {}
    for seed in (0, 1):
        # entropy: class 1 at cycle 1, class 2 at cycle 2
        picks[("entropy", seed)] = {0: initial[seed], 1: list(range(12, 22)), 2: list(range(24, 34))}
        one_each = {1: [12 * k + 1 for k in range(10)], 2: [12 * k + 2 for k in range(10)]}
        if seed == 1:
            one_each[1] = list(range(36, 41)) + list(range(48, 53))  # five of class 3, five of class 4
        picks[("l2r", seed)] = {0: initial[seed], **one_each}
        rng = np.random.default_rng(seed)
        rest = [i for i in range(120) if i not in initial[seed]]
        drawn = rng.choice(rest, 20, replace=False).tolist()
        picks[("random", seed)] = {0: initial[seed], 1: drawn[:10], 2: drawn[10:]}
    return picks


@pytest.fixture
def fake_study(tmp_path, ci_params):
    params = ci_params(strategies=["random", "entropy", "l2r"], seeds=[0, 1], study="fake-picks")
    out = tmp_path / "fake-picks"
    StudyFolder(out).write_params(params)
    rows = []
    for (method, seed), selected in fake_selected().items():
        write_slice(out, method, seed, selected)
        for cycle in selected:
            rows.append(dict(dataset="cifar10", method=method, seed=seed, cycle=cycle,
                             n_labeled=params.labeled_at(cycle), metric="accuracy",
                             value=20.0 + 5 * cycle + seed + (method == "l2r")))
    pd.DataFrame(rows).to_csv(out / "results.csv", index=False)
    return out, params


@pytest.fixture
def study_data(fake_study):
    out, params = fake_study
    return out, params, load_dataset(params, "cpu")


def legend_handles(ax):
    return dict(zip(*reversed(ax.get_legend_handles_labels())))


def test_class_histogram_figure_bars_are_the_known_shares(study_data):
    out, params, data = study_data
    labels = rp.pool_labels(data)
    assert labels.tolist() == [i // 12 for i in range(120)]  # the generated pool: 12 images per class, in order
    hist = rp.class_histogram(rp.load_picks(out), labels, 10)
    ax = rp.class_histogram_plot(hist, pool_share=np.bincount(labels) / 120, names=rp.class_names(data, 10))
    bars = legend_handles(ax)
    # Entropy picks class 1 at cycle 1 and class 2 at cycle 2 in both seeds: 50 % each, zero spread
    assert [p.get_height() for p in bars["Entropy"]] == pytest.approx([0, 50, 50] + [0] * 7)
    # L2R-AL: seed 0 one of each class (10 % each), seed 1 cycle 1 five of class 3 and five of class 4
    # (cycle 2 one of each): class 3 shares 10 % and 30 % -> mean 20 %
    assert bars["L2R-AL"][3].get_height() == pytest.approx(20.0)
    assert bars["L2R-AL"][0].get_height() == pytest.approx(7.5)  # (10 + 5) / 2
    pool = bars["pool's share"]
    assert np.asarray(pool.get_segments())[:, 0, 1] == pytest.approx([10.0] * 10)
    assert [t.get_text() for t in ax.get_xticklabels()][:2] == ["airplane", "automobile"]
    assert "2 seeds" in ax.get_title() and "95% t-interval" in ax.get_title() and "pooled" in ax.get_title()
    one = rp.class_histogram_plot(hist, cycle=1)
    assert [p.get_height() for p in legend_handles(one)["Entropy"]][:2] == pytest.approx([0, 100])
    plt.close("all")


def test_balance_figure_lines_are_the_hand_computed_entropies_and_the_pool(study_data):
    out, params, data = study_data
    labels = rp.pool_labels(data)
    bal = rp.balance(rp.class_histogram(rp.load_picks(out), labels, 10))
    pool = rp.pool_entropy(labels, 10)
    assert pool == pytest.approx(LN(10))  # 12 per class
    ax = rp.balance_plot(bal, pool, num_classes=10)
    lines = {line.get_label(): line for line in ax.get_lines()}
    assert list(lines["Entropy"].get_xdata()) == [1, 2] and list(lines["Entropy"].get_ydata()) == [0, 0]
    # L2R-AL cycle 1: ln 10 (seed 0, one per class) and ln 2 (seed 1, two classes) -> mean ln(20) / 2
    assert lines["L2R-AL"].get_ydata()[0] == pytest.approx((LN(10) + LN(2)) / 2)
    assert lines["L2R-AL"].get_ydata()[1] == pytest.approx(LN(10))
    reference = next(line for label, line in lines.items() if label.startswith("pool's class entropy"))
    assert reference.get_ydata()[0] == pytest.approx(LN(10))
    assert "nats" in ax.get_ylabel() and "higher = more balanced" in ax.get_ylabel()
    assert "2 seeds" in ax.get_title() and "band = 95% t-interval" in ax.get_title()
    table = rp.balance_table(bal, pool)
    assert table.loc["Entropy", 1] == "0.000  [0, 0]" and "nats" in table.columns.name
    plt.close("all")


def test_jaccard_heatmap_cells_are_the_hand_computed_overlaps(study_data):
    out, params, _ = study_data
    table = rp.jaccard_table(rp.load_picks(out))
    # Entropy vs L2R-AL: seed 0 shares item 13 at cycle 1 and 26 at cycle 2 (1 of 19 each); seed 1 nothing at
    # cycle 1, item 26 at cycle 2 -> seed means 1/19 and 1/38, mean 3/76
    assert rp.jaccard_matrix(table).loc["entropy", "l2r"] == pytest.approx(3 / 76)
    low, high = scipy.stats.t.interval(0.95, 1, loc=3 / 76, scale=np.std([1 / 19, 1 / 38], ddof=1) / math.sqrt(2))
    ax = rp.jaccard_heatmap(table, chance=rp.chance_jaccard(params.query_size, params.subset_size))
    cells = {tuple(t.get_position()): t.get_text() for t in ax.texts}  # (column, row), order Random, Entropy, L2R-AL
    expected = f"{3 / 76:.2f}\n[{low:.2f}, {high:.2f}]"
    assert cells[(2, 1)] == cells[(1, 2)] == expected  # both halves of the symmetric matrix
    assert len(cells) == 6  # off-diagonal cells only: the diagonal is grey
    assert "2 seeds" in ax.get_title() and "2 queried cycles" in ax.get_title() and "about 0.200" in ax.get_title()
    assert "better" not in ax.get_title().replace("no better", "")  # no direction claimed
    plt.close("all")


def test_gallery_tiles_are_the_picked_images_in_stored_order_with_their_classes(study_data):
    out, params, data = study_data
    picks = rp.load_picks(out)
    ax = rp.picks_gallery(picks, data, seed=0, cycle=1, n=3)
    mosaic = ax.images[0].get_array()
    assert [t.get_text() for t in ax.get_yticklabels()] == ["Random", "Entropy", "L2R-AL"]
    gap, band = 2, rp.caption_band(32)
    assert mosaic.shape == (3 * (32 + band), 3 * (32 + gap), 3)
    for row, expected in ((1, [12, 13, 14]), (2, [1, 13, 25])):  # entropy's and l2r's first three picks
        for col, index in enumerate(expected):
            tile = mosaic[row * (32 + band):row * (32 + band) + 32, col * (32 + gap):col * (32 + gap) + 32]
            assert np.array_equal(tile, data.train_images[index].permute(1, 2, 0).numpy())
    texts = [t.get_text() for t in ax.texts]
    assert "#13\nautomobile" in texts and "#25\nbird" in texts and len(texts) == 9
    assert "cycle 1, seed 0" in ax.get_title()
    detail = rp.batch_detail(picks, data, "l2r", 0, 1)
    assert detail["pool index"].tolist() == [12 * k + 1 for k in range(10)]  # stored order
    assert detail["item"].tolist()[:3] == ["airplane", "automobile", "bird"]
    assert "Entropy" in detail.loc[2, "also picked by"] and "Entropy" not in detail.loc[1, "also picked by"]
    # without the dataset: the same batch and overlap, no item column
    bare = rp.batch_detail(picks, None, "l2r", 0, 1)
    assert list(bare.columns) == ["pool index", "also picked by"] and bare.equals(detail.drop(columns="item"))
    plt.close("all")


def test_crowd_gallery_captions_are_the_annotated_counts():
    images = torch.arange(4 * 3 * 16 * 24, dtype=torch.int64).remainder(251).to(torch.uint8).view(4, 3, 16, 24)
    density = torch.zeros(4, 1, 16, 24)
    data = CrowdData("shanghaitech", images, density, torch.tensor([7, 0, 31, 2]), images[:1], density[:1],
                     torch.tensor([1]), "cpu", augment=False)
    picks = pd.DataFrame([("random", 0, 1, 2), ("random", 0, 1, 0), ("l2r", 0, 1, 3)], columns=rp.PICK_COLUMNS)
    ax = rp.picks_gallery(picks, data, seed=0, cycle=1)
    assert [t.get_text() for t in ax.texts] == ["#2\n31 heads", "#0\n7 heads", "#3\n2 heads"]
    assert np.array_equal(ax.images[0].get_array()[:16, :24], images[2].permute(1, 2, 0).numpy())
    plt.close("all")


def test_pose_overlay_lands_where_the_loader_put_the_joint_in_the_crop(tmp_path):
    """A white dot at a joint's pixel, cropped by the MPII loader's own `crop_people`, must appear where
    `pose_joints_in_crop` says the joint is."""
    canvas = np.zeros((120, 120, 3), dtype=np.uint8)
    canvas[44:47, 59:62] = 255  # the dot centred on pixel (x 60, y 45)
    Image.fromarray(canvas).save(tmp_path / "a.png")
    center, box, size = np.array([[50.0, 50.0]]), np.array([40.0]), 48
    crops = crop_people(tmp_path, ["a.png"], center, box, size)
    y, x = np.unravel_index(crops[0].float().sum(0).argmax().item(), (size, size))
    joints = np.zeros((1, 16, 2))
    joints[0, :] = [60.0, 45.0]
    visible = np.zeros((1, 16))
    visible[0, 0] = 1
    data = type("Pose", (), {"task": "pose", "name": "mpii", "n_pool": 1, "train": {
        "crops": crops, "joints": torch.tensor(joints), "center": torch.tensor(center), "box": torch.tensor(box),
        "visible": torch.tensor(visible)}})()
    where, shown = rp.pose_joints_in_crop(data, 0)
    # crop scale k = 1.5 x 40 / 48 = 1.25 px per crop px: (60 - 50) / 1.25 + 24 = 32, (45 - 50) / 1.25 + 24 = 20
    assert where[0] == pytest.approx([32.0, 20.0]) and shown.tolist() == [True] + [False] * 15
    assert abs(x - 32) <= 1 and abs(y - 20) <= 1  # the loader's crop agrees (bilinear, pixel centres)
    ax = rp.picks_gallery(pd.DataFrame([("l2r", 0, 1, 0)], columns=rp.PICK_COLUMNS), data, 0, 1)
    marker = next(line for line in ax.get_lines() if line.get_marker() == "o")
    assert list(marker.get_xdata()) == pytest.approx([32.0]) and list(marker.get_ydata()) == pytest.approx([20.0])
    assert [t.get_text() for t in ax.texts] == ["#0\n1 joints"]
    plt.close("all")


def test_picks_section_saves_every_figure_and_says_that_true_losses_are_missing(study_data):
    out, params, data = study_data
    section = rp.picks_section(out, json.loads((out / "params.json").read_text()), data, show=False)
    assert set(section["figures"]) == {"picks_classes", "picks_balance", "picks_jaccard", "picks_gallery"}
    for name, path in section["figures"].items():
        assert path == out / "figures" / f"{name}.png" and path.stat().st_size > 5_000, name
    assert section["histogram_table"].loc[("Entropy", 1), "automobile"] == 10.0
    assert section["pool_entropy"] == pytest.approx(LN(10))
    assert "not available" in section["true_loss_note"] and "oracle-loss" in section["true_loss_note"]
    assert section["oracle_agreement"].empty
    assert not plt.get_fignums()  # every figure closed


def test_without_the_dataset_the_section_shows_the_overlap_and_says_why(fake_study, capsys):
    out, params = fake_study
    section = rp.picks_section(out, params, None, missing="cifar10 not found: run make data-offline")
    printed = capsys.readouterr().out
    assert ("The pictures of the picks (and for classification their classes and balance) need the dataset, which is"
            " not here: cifar10 not found: run make data-offline") in printed
    assert set(section["figures"]) == {"picks_jaccard"} and section["data"] is None
    assert "histogram" not in section and len(section["jaccard"])
    assert "Jaccard of the queried batches" in printed  # the overlap table, printed outside a notebook


def test_oracle_hook_gives_each_methods_overlap_with_the_oracles_picks(tmp_path):
    picks = pd.DataFrame([("oracle-loss", 0, 1, i) for i in (1, 2, 3, 4)] + [("l2r", 0, 1, i) for i in (3, 4, 5)]
                         + [("random", 0, 1, i) for i in (1, 2, 3, 4)], columns=rp.PICK_COLUMNS)
    agreement = rp.oracle_agreement(rp.jaccard_table(picks)).set_index("method")["mean"]
    assert agreement.to_dict() == {"random": 1.0, "l2r": pytest.approx(0.4)}
    assert "oracle-loss is in this study" in rp.true_loss_hook(picks, tmp_path)


def test_explore_notebook_is_stripped_with_the_brief_parameters():
    import papermill

    path = ROOT / "notebooks" / "explore.ipynb"
    assert set(papermill.inspect_notebook(str(path))) == {"study_dir", "method", "seed", "cycle", "data_root",
                                                          "n_images"}
    cells = nbformat.read(path, as_version=4).cells
    assert all(not c.outputs and c.execution_count is None for c in cells if c.cell_type == "code")
    assert [c for c in cells if "parameters" in c.metadata.get("tags", [])][0].source.startswith(
        'study_dir: str = "outputs/cifar10-smoke"')


@pytest.mark.slow
def test_explore_notebook_runs_on_a_fake_study(fake_study, tiny_data_root, tmp_path):
    import papermill

    out, _ = fake_study
    executed = tmp_path / "explore.ipynb"
    papermill.execute_notebook(
        str(ROOT / "notebooks" / "explore.ipynb"), str(executed), cwd=str(ROOT), kernel_name="python3",
        progress_bar=False, parameters={"study_dir": str(out), "method": "L2R-AL", "seed": 1, "cycle": 1,
                                        "data_root": str(tiny_data_root)})
    cells = [c for c in nbformat.read(executed, as_version=4).cells if c.cell_type == "code"]
    outputs = [o for c in cells for o in c.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    figures = sum("image/png" in o.get("data", {}) for o in outputs)
    assert figures >= 5  # learning curve, classes, balance, Jaccard, gallery
    # the chosen (method, seed, cycle): L2R-AL's seed-1 cycle-1 batch, items 36..40 and 48..52
    detail = next(c for c in cells if "picks.batch_detail(" in c.source)
    text = "".join(o.get("data", {}).get("text/plain", "") for o in detail.outputs)
    assert "36" in text and "52" in text and "cat" in text and "deer" in text
    assert not (out / "figures").exists()  # exploring writes nothing into the study
    # the bootstrap names the study it opened
    bootstrap = next(c for c in cells if "picks.open_study(" in c.source)
    said = "".join(o.get("text", "") for o in bootstrap.outputs)
    assert "fake-picks: cifar10, 3 methods x 2 seeds x 3 cycles" in said
    assert "l2r (L2R-AL)" in said and "detailed below: L2R-AL (l2r), seed 1, cycle 1" in said


@pytest.mark.slow
def test_explore_notebook_stops_at_its_first_cell_on_a_value_the_study_lacks(fake_study, tmp_path):
    import papermill

    out, _ = fake_study
    executed = tmp_path / "explore.ipynb"
    with pytest.raises(papermill.PapermillExecutionError, match="cycle 9: L2R-AL seed 0 has picks at cycles 0-2"):
        papermill.execute_notebook(
            str(ROOT / "notebooks" / "explore.ipynb"), str(executed), cwd=str(ROOT), kernel_name="python3",
            progress_bar=False, parameters={"study_dir": str(out), "method": "l2r", "cycle": 9})
    cells = [c for c in nbformat.read(executed, as_version=4).cells if c.cell_type == "code"]
    failed = next(i for i, c in enumerate(cells) if any(o.output_type == "error" for o in c.outputs))
    assert "explore.choose(" in cells[failed].source and "methods (key and name" in "".join(
        o.get("text", "") for o in cells[failed].outputs)  # the valid values printed before the check
    assert all(c.execution_count is None for c in cells[failed + 1:])  # nothing heavy ran


@pytest.mark.slow
def test_explore_notebook_without_the_dataset_shows_the_overlap(fake_study, tmp_path):
    import papermill

    out, _ = fake_study
    executed = tmp_path / "explore.ipynb"
    papermill.execute_notebook(
        str(ROOT / "notebooks" / "explore.ipynb"), str(executed), cwd=str(ROOT), kernel_name="python3",
        progress_bar=False, parameters={"study_dir": str(out), "method": "entropy", "cycle": 2,
                                        "data_root": str(tmp_path / "no-data")})
    outputs = [o for c in nbformat.read(executed, as_version=4).cells if c.cell_type == "code" for o in c.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    text = "".join(o.get("text", "") + o.get("data", {}).get("text/plain", "") + o.get("data", {}).get("text/html", "")
                   for o in outputs)
    assert "need the dataset, which is not here" in text and "make data-offline" in text
    assert "Jaccard of the queried batches" in text and "Jaccard with Entropy at cycle 2" in text
