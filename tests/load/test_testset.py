"""The test set a submission cannot look up: the public split re-rendered with a machine's
secret, and the memorisation check against untouched public images."""
import hashlib

import numpy as np

from conftest import REPO, write_rubric
from grader.grading import grade_submission
from grader.load import testset
from grader.rubric import load_rubric
from synthetic import make_images


def test_every_image_moves_one_pixel_the_same_way_for_the_same_key(tmp_path):
    images, _ = make_images(64, 28, 1, seed=3)
    index = np.arange(100, 164)
    key = testset.key(tmp_path)
    assert testset.key(tmp_path) == key and (tmp_path / testset.KEY_FILE).stat().st_mode & 0o077 == 0
    shown = testset.rerender(images, index, key)
    assert shown.shape == images.shape and shown.dtype == np.uint8
    assert all(not np.array_equal(a, b) for a, b in zip(shown, images))
    # the same image at the same position renders the same in any order and any subset
    assert np.array_equal(testset.rerender(images[::-1], index[::-1], key), shown[::-1])
    # another key moves the images otherwise (about 7 in 8 of them, for any two keys)
    for other in (b"another key" * 3, bytes(32), b"\xff" * 32):
        moved = testset.rerender(images, index, other)
        assert sum(not np.array_equal(a, b) for a, b in zip(moved, shown)) > len(images) // 2
    # each is the original moved by one of the eight one-pixel offsets, edges repeated
    padded = np.pad(images, ((0, 0), (1, 1), (1, 1), (0, 0)), mode="edge")
    for a, p in zip(shown, padded):
        assert any(np.array_equal(a, p[1 + dy:29 + dy, 1 + dx:29 + dx]) for dy, dx in testset.OFFSETS)


def test_a_gap_is_flagged_only_when_large_and_outside_the_noise():
    assert not testset.memorisation_gap(0.60, 10000, 0.61, 2000)["flagged"]   # honest
    assert testset.memorisation_gap(0.60, 10000, 0.66, 2000)["flagged"]       # 15% memorised
    assert not testset.memorisation_gap(0.60, 100, 0.70, 100)["flagged"]      # tiny: noise


MEMORISER = '''\
# The lab's TinyCNN, plus a table from a public test image's pixels to its label (as a
# student could build from the published test set), used only when evaluating.
import hashlib

import torch
from torch import nn

TABLE = {table!r}


class LookingUp(nn.Module):
    def __init__(self, info):
        super().__init__()
        s = info.image_size[0] // 4
        self.features = nn.Sequential(nn.Conv2d(info.in_channels, 32, 3, padding=1), nn.ReLU(),
                                      nn.MaxPool2d(2), nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(),
                                      nn.MaxPool2d(2))
        self.classifier = nn.Sequential(nn.Flatten(), nn.Linear(64 * s * s, 128), nn.ReLU(),
                                        nn.Linear(128, info.num_classes))
        self.register_buffer("mean", torch.tensor(info.mean).view(1, -1, 1, 1))
        self.register_buffer("std", torch.tensor(info.std).view(1, -1, 1, 1))

    def forward(self, x):
        out = self.classifier(self.features(x))
        if self.training:
            return out
        pixels = torch.round((x * self.std + self.mean) * 255).clamp(0, 255).to(torch.uint8)
        for i, image in enumerate(pixels.permute(0, 2, 3, 1).cpu().numpy()):
            label = TABLE.get(hashlib.sha1(image.tobytes()).hexdigest())
            if label is not None:
                out[i] = -100.0
                out[i, label] = 100.0
        return out


def build_model(info):
    return LookingUp(info)
'''


def test_a_lookup_table_of_the_public_test_set_gains_nothing_and_is_flagged(
        tmp_path, fmnist_dir, session_cache):
    """Every public test image's label by the hash of its pixels: on the re-rendered images
    it is graded on the table finds nothing, so it scores what the same model scores
    honestly; on the public sample it is perfect, and the gap flags it."""
    from grader.load.datasets import prepare_data
    rubric = load_rubric(str(write_rubric(tmp_path)))
    data = prepare_data(rubric.dataset, data_dir=fmnist_dir, cache_dir=session_cache)
    x, y = data.load("test_x"), data.load("test_y")
    table = {hashlib.sha1(np.ascontiguousarray(img).tobytes()).hexdigest(): int(label)
             for img, label in zip(x, y)}
    cheat = tmp_path / "lab.py"
    cheat.write_text(MEMORISER.format(table=table))
    graded = {name: grade_submission(submission=path, rubric=rubric, data_dir=fmnist_dir,
                                     cache_dir=session_cache, quick=True).dump()
              for name, path in (("cheat", cheat), ("honest", REPO / "reference" / "baseline.py"))}
    cheat_r, honest_r = graded["cheat"], graded["honest"]
    assert cheat_r["status"] == "graded", cheat_r["failure"]
    assert cheat_r["metrics"]["accuracy"] == honest_r["metrics"]["accuracy"]
    assert cheat_r["score"] <= honest_r["score"]
    check = cheat_r["metrics"]["test_set"]["memorisation"]
    assert check["public_accuracy"] == 1.0 and check["flagged"]
    assert "may recognise the public test set" in cheat_r["anomaly"]
    assert honest_r["anomaly"] is None and not honest_r["metrics"]["test_set"]["memorisation"]["flagged"]
    assert cheat_r["metrics"]["test_set"]["kind"] == "public-rerendered"
