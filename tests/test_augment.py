"""Batched augmentation must match torchvision's per-image semantics: exactly where the
randomness is fixed, in distribution where it is not, and with a draw per image."""
import numpy as np
import pytest
import torch
from torchvision import transforms as T

from grader.augment import translate
from grader.train import AugmentStream, transform_batch

MEAN, STD = (0.49, 0.48, 0.45), (0.20, 0.20, 0.20)


def images(n=64, c=3, size=32, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (n, size, size, c), dtype=np.uint8)


def both(transform, x, seed=0):
    batched = translate(transform)(torch.from_numpy(x), torch.Generator().manual_seed(seed))
    per_image = AugmentStream(seed)(lambda: transform_batch(x, transform, "train"))
    return batched, per_image


@pytest.mark.parametrize("transform", [
    T.Compose([T.ToTensor(), T.Normalize(MEAN, STD)]),
    T.Compose([T.RandomCrop(32), T.RandomHorizontalFlip(p=0.0), T.ToTensor()]),
    T.Compose([T.RandomHorizontalFlip(p=1.0), T.ToTensor(), T.Normalize(MEAN, STD)]),
    T.Compose([T.ToTensor(), T.RandomHorizontalFlip(p=1.0)]),
], ids=["test-transform", "crop-without-padding", "always-flip", "flip-after-totensor"])
def test_exactly_equal_where_randomness_is_fixed(transform):
    batched, per_image = both(transform, images())
    assert batched.shape == per_image.shape
    assert torch.allclose(batched, per_image, atol=1e-6)


def test_grayscale_images_keep_one_channel():
    x = images(c=1, size=28)
    batched, per_image = both(T.Compose([T.ToTensor(), T.Normalize((0.28,), (0.35,))]), x)
    assert batched.shape == (64, 1, 28, 28) and torch.allclose(batched, per_image, atol=1e-6)


def test_crop_and_flip_follow_torchvision_in_distribution():
    """Thousands of augmented copies of one image: the mean image, and how often each
    pixel ends up as padding (zero), agree with torchvision's within sampling error."""
    one = images(n=1)
    x = np.repeat(one, 4000, axis=0)
    tf = T.Compose([T.RandomCrop(32, padding=4), T.RandomHorizontalFlip(), T.ToTensor()])
    batched, per_image = both(tf, x, seed=3)
    assert (batched.mean(0) - per_image.mean(0)).abs().max() < 0.05
    zero_b, zero_p = (batched == 0).float().mean(0), (per_image == 0).float().mean(0)
    assert (zero_b - zero_p).abs().max() < 0.05
    assert zero_b[:, 0, 0].mean() > 0.2  # corners are padding often, as they should be


def test_every_image_gets_its_own_draw():
    x = np.repeat(images(n=1), 256, axis=0)
    tf = T.Compose([T.RandomCrop(32, padding=4), T.RandomHorizontalFlip(), T.ToTensor()])
    out = translate(tf)(torch.from_numpy(x), torch.Generator().manual_seed(0))
    distinct = {tuple(o.flatten()[:200].tolist()) for o in out}
    assert len(distinct) > 50  # one shared draw for the batch would give 1


def test_same_seed_same_stream():
    tf = T.Compose([T.RandomCrop(32, padding=4), T.RandomHorizontalFlip(), T.ToTensor()])
    x = torch.from_numpy(images())
    a = translate(tf)(x, torch.Generator().manual_seed(5))
    b = translate(tf)(x, torch.Generator().manual_seed(5))
    assert torch.equal(a, b)


@pytest.mark.parametrize("transform", [
    T.Compose([T.RandomRotation(10), T.ToTensor()]),
    T.Compose([T.RandomCrop(32, padding=4, padding_mode="reflect"), T.ToTensor()]),
    T.Compose([T.RandomHorizontalFlip()]),  # no ToTensor: not a tensor pipeline
    T.Compose([T.ToTensor(), T.RandomErasing()]),
    lambda img: T.functional.to_tensor(img),
], ids=["rotation", "reflect-padding", "no-totensor", "erasing", "own-callable"])
def test_anything_else_falls_back_to_the_per_image_path(transform):
    assert translate(transform) is None
