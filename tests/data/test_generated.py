"""The generated CIFAR-like folder (data/generated.py): a write killed midway is rebuilt, not reused."""
import pytest


def test_generated_folder_killed_mid_write_is_rebuilt_not_reused(tmp_path):
    """A generation interrupted after its folder appeared must not pass for a complete dataset."""
    from types import SimpleNamespace

    from l2ral_lib.data.base import FolderDataset

    class Generated(FolderDataset):
        folder, generated, fail = "tiny-generated", True, True

        @classmethod
        def is_present(cls, root):
            return (root / "b.txt").is_file()

        @classmethod
        def make_generated(cls, root):
            root.mkdir(parents=True)
            (root / "a.txt").write_text("first half")
            if cls.fail:
                raise KeyboardInterrupt  # killed between two files
            (root / "b.txt").write_text("second half")

    params = SimpleNamespace(data_root=str(tmp_path))
    with pytest.raises(KeyboardInterrupt):
        Generated.root(params)
    assert not (tmp_path / "tiny-generated").exists()
    Generated.fail = False
    root = Generated.root(params)
    assert sorted(p.name for p in root.iterdir()) == ["a.txt", "b.txt"]
    assert [p.name for p in tmp_path.iterdir()] == ["tiny-generated"]  # the partial copy was cleared
