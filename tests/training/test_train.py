"""The training loop, in-process with trusted hooks."""
import os
import platform
import subprocess
import sys

import numpy as np
import pytest
import torch
from torchvision import transforms as T

from conftest import REPO
from grader.load.datasets import FASHION_MNIST
from grader.failures import SubmissionError
from grader.sandbox.hooks import load_hooks
from grader.sandbox.launch import ALLOCATOR_ENV
from grader.training.batches import Batches, Images
from grader.training.loop import TrainConfig, train
from synthetic import make_images

REFERENCE = REPO / "reference" / "baseline.py"


@pytest.fixture(scope="module")
def data():
    x, y = make_images(300, 28, 1, seed=0)
    return x, torch.from_numpy(y), np.arange(270), np.arange(270, 300)


def config(**kw):
    base = dict(epochs=2, batch_size=64, grad_clip_norm=None, early_stopping_patience=None,
                scheduler_step="epoch", seed=0, device="cpu")
    return TrainConfig(**{**base, **kw})


def run(hooks, data, cfg):
    torch.manual_seed(cfg.seed)
    model = hooks.build_model(FASHION_MNIST)
    x, y, tr, va = data
    return model, train(model, hooks, x, y, tr, va, cfg, FASHION_MNIST, lambda e: None)[0]


BATCHED = T.Compose([T.RandomCrop(28, padding=3), T.ToTensor()])
PER_IMAGE_ONLY = T.Compose([T.RandomPerspective(), T.ToTensor()])  # grader.training.augment lacks it


@pytest.mark.parametrize("tf", [BATCHED, PER_IMAGE_ONLY], ids=["batched", "per-image"])
def test_augmentation_stream_ignores_other_rng_use(data, tf):
    images, order = Images(data[0], "cpu"), torch.arange(64)

    def draw(batches):
        return torch.cat(list(batches(images, order, 32)))
    a, b = Batches(tf, "train", 7, "cpu"), Batches(tf, "train", 7, "cpu")
    first = draw(a)
    torch.rand(1000)  # e.g. a bigger model's init or Dropout consuming the global RNG
    assert torch.equal(first, draw(b))
    assert not torch.equal(draw(a), first)  # the stream moves on


def test_per_image_path_gives_the_same_batches_with_any_number_of_workers(data):
    tf = PER_IMAGE_ONLY
    images, order = Images(data[0], "cpu"), torch.randperm(100)
    alone = torch.cat(list(Batches(tf, "train", 3, "cpu", workers=0)(images, order, 32)))
    pooled = torch.cat(list(Batches(tf, "train", 3, "cpu", workers=2)(images, order, 32)))
    assert alone.shape == (100, 1, 28, 28) and torch.equal(alone, pooled)


VIEW_MODEL = """
from torch import nn

class Net(nn.Module):  # flattens as many tutorials do: view needs NCHW memory
    def __init__(self):
        super().__init__()
        self.conv = nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2))
        self.fc = nn.Linear(8 * 14 * 14, 10)

    def forward(self, x):
        x = self.conv(x)
        return self.fc(x.view(x.size(0), -1))

def build_model(info):
    return Net()
"""


@pytest.mark.parametrize("tf", [BATCHED, PER_IMAGE_ONLY], ids=["batched", "per-image"])
def test_a_model_that_flattens_with_view_trains_on_one_channel_images(data, tmp_path, tf):
    """Fashion-MNIST's batches once had channels_last's strides on the batched path, so the
    convolutions' outputs did too and a model's x.view(...) failed there only."""
    (tmp_path / "sub.py").write_text(VIEW_MODEL + f"""
from torchvision import transforms as T

def build_train_transform(info):
    return {"T.Compose([T.RandomCrop(28, padding=3), T.ToTensor()])" if tf is BATCHED
            else "T.Compose([T.RandomPerspective(), T.ToTensor()])"}
""")
    hooks = load_hooks(tmp_path / "sub.py", REFERENCE)
    _, result = run(hooks, data, config(epochs=1))
    assert result["pipeline"]["train"] == ("batched" if tf is BATCHED else "per-image")
    assert result["pipeline"]["test"] == "batched" and result["epochs_run"] == 1


def test_layout_and_precision_switches_train(data):
    hooks = load_hooks(REFERENCE, REFERENCE)
    _, plain = run(hooks, data, config(epochs=1))
    _, fast = run(hooks, data, config(epochs=1, channels_last=True, mixed_precision=True))
    assert fast["epochs_run"] == 1 and 0 <= fast["history"][0]["val_accuracy"] <= 1
    # bfloat16 changes the arithmetic, so not the same numbers, but the same kind of run
    assert abs(fast["history"][0]["train_loss"] - plain["history"][0]["train_loss"]) < 0.5


def test_same_seed_same_history(data):
    hooks = load_hooks(REFERENCE, REFERENCE)
    _, h1 = run(hooks, data, config())
    _, h2 = run(hooks, data, config())
    assert h1["history"][-1]["train_loss"] == h2["history"][-1]["train_loss"]
    assert [e["val_accuracy"] for e in h1["history"]] == [e["val_accuracy"] for e in h2["history"]]


def test_the_loop_learns(data):
    hooks = load_hooks(REFERENCE, REFERENCE)
    _, result = run(hooks, data, config(epochs=3))
    losses = [e["train_loss"] for e in result["history"]]
    assert losses[-1] < losses[0] and result["epochs_run"] == 3 and not result["stopped_early"]
    assert result["pipeline"] == {"train": "batched", "test": "batched"}


def test_early_stopping_stops_and_keeps_the_best_epoch(tmp_path, data):
    sub = tmp_path / "s.py"
    # lr 0 never improves after epoch 1, so patience 1 stops at epoch 2
    sub.write_text("import torch\ndef build_optimizer(model):\n"
                   "    return torch.optim.SGD(model.parameters(), lr=0.0)\n")
    hooks = load_hooks(sub, REFERENCE)
    _, result = run(hooks, data, config(epochs=5, early_stopping_patience=1))
    assert result["epochs_run"] == 2 and result["stopped_early"] and result["best_epoch"] == 1


def test_batch_scheduler_steps_every_batch(tmp_path, data):
    sub = tmp_path / "s.py"
    sub.write_text("import torch\nSCHEDULER_STEP = 'batch'\n"
                   "def build_scheduler(opt, epochs, steps):\n"
                   "    return torch.optim.lr_scheduler.LambdaLR(opt, lambda i: 1.0 / (1 + i))\n")
    hooks = load_hooks(sub, REFERENCE)
    torch.manual_seed(0)
    model = hooks.build_model(FASHION_MNIST)
    x, y, tr, va = data
    result, _ = train(model, hooks, x, y, tr, va, config(epochs=1, scheduler_step="batch"),
                      FASHION_MNIST, lambda e: None)
    assert result["steps_per_epoch"] == 5  # 270 images in batches of 64


def test_an_unrecognised_transform_trains_on_the_per_image_path(tmp_path, data):
    sub = tmp_path / "s.py"
    sub.write_text("from torchvision import transforms as T\n"
                   "def build_train_transform(info):\n"
                   "    return T.Compose([T.RandomPerspective(), T.ToTensor()])\n")
    _, result = run(load_hooks(sub, REFERENCE), data, config(epochs=1))
    assert result["pipeline"] == {"train": "per-image", "test": "batched"}


def test_nan_loss_stops_with_a_reason(data):
    from conftest import SUBMISSIONS
    hooks = load_hooks(SUBMISSIONS / "fails_nan_loss.py", REFERENCE)
    with pytest.raises(SubmissionError) as info:
        run(hooks, data, config())
    assert info.value.code == "non_finite_loss" and "epoch 1, step 1" in info.value.message


def test_a_transform_without_totensor_is_explained(data):
    batches = Batches(T.RandomHorizontalFlip(), "train", 0, "cpu")
    with pytest.raises(SubmissionError) as info:
        next(batches(Images(data[0], "cpu"), torch.arange(2), 2))
    assert info.value.code == "bad_transform" and "ToTensor" in info.value.hint


@pytest.mark.parametrize("tf,which,got,words", [
    (T.Compose([T.Resize(128), T.ToTensor()]), "train", [1, 128, 128], "128×128 instead of 28×28"),
    (T.Compose([T.Grayscale(3), T.ToTensor()]), "test", [3, 28, 28], "3 channels instead of 1"),
    (T.Compose([T.RandomPerspective(), T.Resize(32), T.ToTensor()]), "train", [1, 32, 32], "32×32"),
], ids=["resize-batched-path", "channels", "per-image-path"])
def test_a_transform_of_the_wrong_size_is_refused_naming_its_hook(data, tf, which, got, words):
    from grader.training.batches import check_transform
    with pytest.raises(SubmissionError) as info:
        check_transform(tf, which, data[0][:2], FASHION_MNIST)
    e = info.value
    assert e.code == "bad_transform" and e.got == got and e.expected == [1, 28, 28]
    assert e.message.startswith(f"build_{which}_transform(info) makes {'×'.join(map(str, got))} images")
    assert words in e.hint


def test_transforms_of_the_right_size_pass_the_check(data):
    from torchvision.transforms import v2
    from grader.training.batches import check_transform
    for tf in (T.Compose([T.RandomCrop(28, padding=3), T.ToTensor()]),
               v2.Compose([v2.AutoAugment(), v2.ToImage(), v2.ToDtype(torch.float32, scale=True)])):
        check_transform(tf, "train", data[0][:2], FASHION_MNIST)


def test_prebuilt_transforms_are_used_as_given(data):
    hooks = load_hooks(REFERENCE, REFERENCE)
    torch.manual_seed(0)
    model = hooks.build_model(FASHION_MNIST)
    x, y, tr, va = data
    given = {"train": PER_IMAGE_ONLY, "test": BATCHED}
    result, _ = train(model, hooks, x, y, tr, va, config(epochs=1), FASHION_MNIST, lambda e: None,
                      transforms=given)
    assert result["pipeline"] == {"train": "per-image", "test": "batched"}


def test_cpu_images_are_the_memory_mapped_array_itself(tmp_path, data):
    """On the CPU the batched path indexes the (read-only, memory-mapped) host array
    directly, no 150 MB copy per run (#18), and gives the batches a copy would."""
    np.save(tmp_path / "x.npy", data[0])
    mapped = np.load(tmp_path / "x.npy", mmap_mode="r")
    images = Images(mapped, "cpu")
    on_device = images.on_device()
    assert on_device.data_ptr() == mapped.ctypes.data  # shared, not copied
    order = torch.randperm(100, generator=torch.Generator().manual_seed(1))
    from_map = torch.cat(list(Batches(BATCHED, "train", 4, "cpu")(images, order, 32)))
    copied = torch.cat(list(Batches(BATCHED, "train", 4, "cpu")(Images(np.array(data[0]), "cpu"),
                                                                order, 32)))
    assert torch.equal(from_map, copied)


def test_each_epoch_records_the_time_spent_making_batches(data):
    _, result = run(load_hooks(REFERENCE, REFERENCE), data, config())
    for epoch in result["history"]:
        assert 0 < epoch["data_seconds"] < epoch["seconds"]


STEPS = """
import resource, torch
from torch import nn
torch.manual_seed(0)
model = nn.Sequential(nn.Conv2d(3, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                      nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                      nn.Flatten(), nn.Linear(64 * 8 * 8, 10))
opt = torch.optim.Adam(model.parameters())
x, y = torch.randn(128, 3, 32, 32), torch.randint(0, 10, (128,))
def steps(n):
    for _ in range(n):
        opt.zero_grad()
        nn.functional.cross_entropy(model(x), y).backward()
        opt.step()
steps(3)  # the heap grows to its working size
windows = []  # faults in each of 5 runs of 10 steps: their median, as one-off costs
for _ in range(5):  # (a new region touched once) and the timing of threads vary
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    steps(10)
    windows.append(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
print(sorted(windows)[2])
"""


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="a glibc setting")
def test_the_childs_allocator_setting_stops_the_page_faults_of_each_step():
    """Without it glibc hands the step's large tensors back to the kernel and faults them in
    again on the next step (a fifth of TinyCNN's step time on a 2-core VM): 30,000-170,000
    faults a window of 10 steps, measured, against 0-3,000 with it. Now and then glibc's
    own adaptive threshold stops most of them by itself (2 processes of 12 here read under
    10,000), so the plain process runs up to three times: the setting's worth is shown
    against one that faults."""
    def faults(env):
        out = subprocess.run([sys.executable, "-c", STEPS], env={**os.environ, **env},
                             capture_output=True, text=True, check=True)
        return int(out.stdout.split()[-1])
    plain = 0
    for _ in range(3):
        plain = max(plain, faults({"GLIBC_TUNABLES": ""}))
        if plain > 10_000:
            break
    tuned = faults(ALLOCATOR_ENV)
    assert plain > 10_000 and tuned < plain / 10, (plain, tuned)


def test_numpy_and_python_random_draws_depend_on_the_image_and_epoch_not_the_workers(data):
    """A numpy-based Cutout and a `random.choice` (passes_numpy_cutout_per_image.py): loader
    workers used to start from the same numpy state every epoch (a default-seeded
    generator), so the holes repeated slot by slot and changed with the worker count."""
    sub = load_hooks(REPO / "tests" / "submissions" / "real_world" / "passes_numpy_cutout_per_image.py",
                     REFERENCE)
    tf = sub.build_train_transform(FASHION_MNIST)
    images, order = Images(data[0], "cpu"), torch.arange(96)
    state = np.random.get_state()[1].copy()

    def two_epochs(workers):
        batches = Batches(tf, "train", 5, "cpu", workers=workers)
        assert batches.path == "per-image"
        return [torch.cat(list(batches(images, order, 32))) for _ in range(2)]
    runs = {w: two_epochs(w) for w in (0, 1, 2)}
    for w in (1, 2):
        assert all(torch.equal(a, b) for a, b in zip(runs[0], runs[w])), f"{w} workers differ"
    first, second = runs[0]
    holes = [(x == x.min()).flatten(1).sum(1) for x in (first, second)]
    assert not torch.equal(first, second) and not torch.equal(holes[0], holes[1])  # epochs differ
    assert not torch.equal(first[:32], first[32:64])  # so do the images of one epoch
    assert np.array_equal(np.random.get_state()[1], state)  # the caller's numpy state is left alone
