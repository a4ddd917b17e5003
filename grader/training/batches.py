"""A run's images turned into a model's input batches: the uint8 arrays (`Images`), the
batches on the training device (`Batches`: whole batches through grader.training.augment
where it recognises the pipeline, else image by image through torchvision in DataLoader
workers, `PerImage`), the check that a transform makes the data set's [C, H, W] floats
before training starts (`check_transform`), and the note when the test images would be
normalised otherwise than the training images (`normalisation_note`).

Fairness: each `Batches` draws from its own random stream, seeded once per run, so the
student and the baseline at one seed see the same augmentation draws, whatever their
model's initialisation or Dropout draw.
"""
from __future__ import annotations

import random
import warnings

import numpy as np
import torch
from PIL import Image

from grader.failures import SubmissionError
from grader.i18n import _
from grader.training.augment import translate


def to_pil(image: np.ndarray) -> Image.Image:
    """[H, W, C] uint8 -> the PIL image torchvision's transforms expect."""
    return Image.fromarray(image[..., 0], mode="L") if image.shape[-1] == 1 else Image.fromarray(image)


def _checked(t, which: str) -> torch.Tensor:
    if not torch.is_tensor(t) or t.dim() != 3:
        raise SubmissionError(
            "bad_transform", _("build_{which}_transform(info) returned a transform whose output "
                               "is not a [C, H, W] tensor").format(which=which),
            expected=_("a float tensor [C, H, W]"),
            got=type(t).__name__ if not torch.is_tensor(t) else f"tensor {list(t.shape)}",
            hint=_("End the Compose with T.ToTensor() (and T.Normalize after it)."))
    return t


def check_transform(transform, which: str, sample: np.ndarray, info, at: str = "") -> None:
    """Run `transform` on a few images ([n, H, W, C] uint8) as training will, and refuse
    an output that is not the data set's [C, H, W]: the model is inspected, and the test
    set predicted, at that size, so a pipeline that makes 128×128 images would only fail
    later, deep in the model, as a shape error there."""
    want = [info.in_channels, *info.image_size]
    batches = Batches(transform, which, seed=0, device="cpu")  # its own stream: nothing drawn
    batch = next(batches(Images(sample, "cpu"), torch.arange(len(sample)), len(sample)))
    if not batch.is_floating_point():
        raise SubmissionError(
            "bad_transform", _("build_{which}_transform(info) makes {dtype} tensors, but the model "
                               "takes floats: the pipeline ends before the pixels become floats "
                               "in [0, 1]{at}").format(which=which, at=f" ({at})" if at else "",
                                                       dtype=str(batch.dtype).removeprefix("torch.")),
            expected=_("a float tensor [C, H, W]"), got=f"{batch.dtype} {list(batch.shape[1:])}",
            hint=_("T.PILToTensor() and v2.ToImage() keep the 0-255 integers: end with "
                   "T.ToTensor(), or add v2.ToDtype(torch.float32, scale=True) after v2.ToImage() "
                   "(then Normalize)."))
    got = list(batch.shape[1:])
    if got == want:
        return
    c, h, w = want
    if got[0] != c:
        cause = _("{got} channels instead of {c}: {name} images have {c}; a "
                  "Grayscale(num_output_channels=...) or a Normalize with {got} means may be the "
                  "reason (use info.in_channels, info.mean and info.std).").format(
            got=got[0], c=c, name=info.name)
    else:
        cause = _("{gh}×{gw} instead of {h}×{w}: the model is inspected and the test set "
                  "predicted at the data set's size, so end the pipeline at info.image_size "
                  "(RandomCrop(info.image_size, padding=...) or RandomResizedCrop(info.image_size) "
                  "rather than Resize to another size).").format(gh=got[1], gw=got[2], h=h, w=w)
    raise SubmissionError(
        "bad_transform", _("build_{which}_transform(info) makes {got} images, but {name}'s images "
                           "are {want}").format(which=which, got=f"{got[0]}×{got[1]}×{got[2]}",
                                                name=info.name, want=f"{c}×{h}×{w}"),
        expected=want, got=got, hint=cause)


def _stacked(out: list[torch.Tensor], which: str) -> torch.Tensor:
    shapes = {tuple(t.shape) for t in out}
    if len(shapes) > 1:
        raise SubmissionError("bad_transform", _("build_{which}_transform(info) gives images of "
                                                 "different sizes: {sizes}").format(
                                                     which=which, sizes=sorted(shapes)),
                              hint=_("Random resizes must end at one fixed size (e.g. "
                                     "RandomResizedCrop(size))."))
    return torch.stack(out)


class Images:
    """A split's uint8 images [N, H, W, C]: the host array (memory-mapped from the data
    cache, so every child of a batch shares the same pages) and, made once per run when
    the batched path wants it, a copy on the training device."""

    def __init__(self, array: np.ndarray, device: str):
        self.host, self.device = array, device
        self._on_device = None

    def __len__(self):
        return len(self.host)

    def on_device(self) -> torch.Tensor:
        """The images as a tensor on the device. On the CPU that is the host array itself,
        not a copy: copying the memory-mapped CIFAR-10 training set (150 MB) cost 0.35-0.45 s
        a run in page faults on fresh memory, and indexing the mapping costs no more than
        indexing a copy. Nothing writes to it (every step of a batch makes its own)."""
        if self._on_device is None:
            with warnings.catch_warnings():  # a read-only mapping: torch warns it cannot
                warnings.simplefilter("ignore", UserWarning)  # protect it, nothing writes
                host = torch.from_numpy(np.ascontiguousarray(self.host))
            self._on_device = host.to(self.device)
        return self._on_device


class PerImage(torch.utils.data.Dataset):
    """Batches made image by image through torchvision, for pipelines grader.training.augment does not
    recognise. Each image's draw is seeded by the stream's seed and the image's place in
    the stream (so by the epoch too), for torch, Python's `random` (RandomChoice, RandomOrder)
    and numpy's global state (the widely copied Cutout), so the result is the same with any
    number of loader workers, whichever worker takes the batch. A numpy Generator the
    student makes without a seed draws from the OS and cannot be made reproducible."""

    def __init__(self, images: np.ndarray, transform, which: str, seed: int):
        self.images, self.transform, self.which, self.seed = images, transform, which, seed

    def __len__(self):
        return 0  # indexed by the sampler's (indices, position) pairs only

    def __getitem__(self, item):
        idx, position = item
        out = []
        with torch.random.fork_rng(devices=[]):
            state, np_state = random.getstate(), np.random.get_state()
            try:
                for k, i in enumerate(idx):
                    s = (self.seed * 1_000_003 + position + k) % 2**63
                    torch.manual_seed(s)
                    random.seed(s)  # RandomChoice and RandomOrder draw from Python's random
                    np.random.seed(s % 2**32)
                    out.append(_checked(self.transform(to_pil(self.images[i])), self.which))
            finally:
                random.setstate(state)
                np.random.set_state(np_state)
        return _stacked(out, self.which)


class Batches:
    """Turns uint8 images into a model's input batches on the training device: on whole
    batches with a random draw per image when the pipeline is one grader.training.augment
    recognises, else image by image through torchvision in DataLoader workers. Either way
    on its own random stream, seeded once per run, so model initialisation and Dropout
    draws do not shift it."""

    def __init__(self, transform, which: str, seed: int, device: str, workers: int = 0):
        self.transform, self.which, self.seed, self.device = transform, which, seed, device
        self.batched = translate(transform)
        self.path = "batched" if self.batched else "per-image"
        self.workers = workers
        self.gen = torch.Generator(device=device).manual_seed(seed)
        self.position = 0  # images served so far: the per-image path's stream position

    def __call__(self, images: Images, order: torch.Tensor, batch_size: int):
        """Yield the batches of images[order], in order, each [B, C, H, W] on the device."""
        if self.batched:
            on_device = images.on_device()
            order = order.to(self.device)
            for start in range(0, len(order), batch_size):
                yield self.batched(on_device[order[start:start + batch_size]], self.gen)
            return
        pairs = [(order[s:s + batch_size].numpy(), self.position + s)
                 for s in range(0, len(order), batch_size)]
        self.position += len(order)
        loader = torch.utils.data.DataLoader(
            PerImage(images.host, self.transform, self.which, self.seed), sampler=pairs,
            batch_size=None, num_workers=min(self.workers, len(pairs)),
            # its own generator leaves the global RNG (Dropout's) alone; seeded by the stream
            # so that each epoch's workers start elsewhere (every draw is reseeded per image)
            generator=torch.Generator().manual_seed((self.seed * 1_000_003 + self.position) % 2**63),
            pin_memory=self.device.startswith("cuda"))
        for xb in loader:
            yield xb.to(self.device, non_blocking=True)


def normalisation_note(customised, transforms: dict, info) -> str | None:
    """A train transform of the student's own with the baseline's test transform is
    graded as asked, but test images then go through another normalisation than the
    training images did: say so (it often costs accuracy without any error). `customised`:
    the hooks the submission defines itself."""
    if "build_train_transform" not in customised or "build_test_transform" in customised:
        return None
    train, test = _normalize_steps(transforms["train"]), _normalize_steps(transforms["test"])
    if train is not None and train == test:
        return None
    seen = (_("an unreadable pipeline") if train is None else
            " -> ".join(f"Normalize(mean={m}, std={s})" for m, s in train) or _("no Normalize"))
    return _("You changed build_train_transform but not build_test_transform, so test images "
             "go through the baseline's ToTensor + Normalize(mean={mean}, std={std}), while "
             "your training images had {seen}. Define build_test_transform with the same "
             "normalisation (and the same size) as training.").format(
        mean=tuple(info.mean), std=tuple(info.std), seen=seen)


def _normalize_steps(transform) -> list | None:
    """The (mean, std) of every Normalize in a (v1 or v2) Compose, rounded; None when the
    pipeline is a callable of the student's own that cannot be read."""
    steps = getattr(transform, "transforms", None)
    if steps is None and type(transform).__name__ != "Normalize":
        return [] if type(transform).__module__.startswith("torchvision") else None
    found = []
    for t in steps if steps is not None else [transform]:
        if type(t).__name__ == "Normalize":
            found.append((tuple(round(float(v), 4) for v in t.mean),
                          tuple(round(float(v), 4) for v in t.std)))
        elif hasattr(t, "transforms"):
            inner = _normalize_steps(t)
            if inner is None:
                return None
            found += inner
        elif not type(t).__module__.startswith("torchvision"):
            return None
    return found
