"""What several test files share that is not a fixture (the fixtures are in conftest.py): the project root,
generated data sets, independent reference computations. Tests import it as `helpers` (tests/ is on sys.path:
rootdir conftest, prepend import mode, no __init__.py under tests/)."""
from pathlib import Path

import torch
from PIL import Image


ROOT = Path(__file__).resolve().parents[1]


ATTRIBUTES = ("5_o_Clock_Shadow Arched_Eyebrows Attractive Bags_Under_Eyes Bald Bangs Big_Lips Big_Nose Black_Hair"
              " Blond_Hair Blurry Brown_Hair Bushy_Eyebrows Chubby Double_Chin Eyeglasses Goatee Gray_Hair"
              " Heavy_Makeup High_Cheekbones Male Mouth_Slightly_Open Mustache Narrow_Eyes No_Beard Oval_Face"
              " Pale_Skin Pointy_Nose Receding_Hairline Rosy_Cheeks Sideburns Smiling Straight_Hair Wavy_Hair"
              " Wearing_Earrings Wearing_Hat Wearing_Lipstick Wearing_Necklace Wearing_Necktie Young").split()
MALE = ATTRIBUTES.index("Male")


def make_celeba(root: Path, partitions=(0,) * 30 + (1,) * 4 + (2,) * 8, absent=(3, 33), size=(18, 22), seed=0):
    """<root>/celeba in the official format: images i+1 with partition partitions[i]; `absent` ones are
    listed in both files but not written (as in a partial copy). Returns {name: male 0/1}."""
    folder = root / "celeba"
    (folder / "img_align_celeba").mkdir(parents=True, exist_ok=True)
    generator = torch.Generator().manual_seed(seed)
    attr_lines = [str(len(partitions)), " ".join(ATTRIBUTES)]
    part_lines, male = [], {}
    for i, part in enumerate(partitions):
        name = f"{i + 1:06d}.jpg"
        values = (torch.randint(0, 2, (len(ATTRIBUTES),), generator=generator) * 2 - 1).tolist()
        male[name] = int(values[MALE] == 1)
        attr_lines.append(name + "".join(f" {v:2d}" for v in values))
        part_lines.append(f"{name} {part}")
        if i not in absent:  # male faces brighter, so a tiny model has something to learn
            base = 60 + 120 * male[name]
            pixels = (torch.rand(size[1], size[0], 3, generator=generator) * 60 + base).to(torch.uint8)
            Image.fromarray(pixels.numpy()).save(folder / "img_align_celeba" / name, quality=90)
    (folder / "list_attr_celeba.txt").write_text("\n".join(attr_lines) + "\n")
    (folder / "list_eval_partition.txt").write_text("\n".join(part_lines) + "\n")
    return male


def brute_force_kcenter(pool, labeled, budget):
    picks = []
    for _ in range(budget):
        centres = torch.cat([labeled, pool[picks]]) if picks else labeled
        distance = torch.cdist(pool.double(), centres.double()).min(1).values
        distance[picks] = -1
        picks.append(int(distance.argmax()))
    return picks
