"""Batched augmentation must match torchvision's per-image semantics: exactly where the
randomness is fixed, in distribution where it is not, and with a draw per image."""
import numpy as np
import pytest
import torch
from torchvision import transforms as T

from grader.training.augment import translate
from grader.training.batches import to_pil

MEAN, STD = (0.49, 0.48, 0.45), (0.20, 0.20, 0.20)


def images(n=64, c=3, size=32, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (n, size, size, c), dtype=np.uint8)


def blocky(n=64, c=3, size=32, seed=0):
    """Images made of 4x4 blocks, like real images smooth at the pixel scale: a rotation's
    nearest-neighbour sampling then agrees with PIL's away from rounding ties."""
    base = images(n, c, size // 4, seed)
    return np.repeat(np.repeat(base, 4, 1), 4, 2)


def both(transform, x, seed=0):
    batched = translate(transform)(torch.from_numpy(x), torch.Generator().manual_seed(seed))
    with torch.random.fork_rng(devices=[]):  # torchvision itself, image by image
        torch.manual_seed(seed)
        per_image = torch.stack([transform(to_pil(img)) for img in x])
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
    T.Compose([T.ColorJitter(brightness=(1.4, 1.4)), T.ToTensor()]),
    T.Compose([T.ColorJitter(contrast=(0.5, 0.5)), T.ToTensor()]),
    T.Compose([T.ColorJitter(saturation=(0.3, 0.3)), T.ToTensor()]),
    T.Compose([T.ColorJitter(hue=(0.2, 0.2)), T.ToTensor()]),
    T.Compose([T.ColorJitter(hue=(-0.3, -0.3)), T.ToTensor()]),
    T.Compose([T.RandomGrayscale(p=1.0), T.ToTensor()]),
    T.Compose([T.Grayscale(num_output_channels=1), T.ToTensor()]),
    T.Compose([T.RandomRotation((30, 30)), T.ToTensor()]),
    T.Compose([T.RandomRotation((-75, -75), fill=128), T.ToTensor()]),
    T.Compose([T.RandomAffine((20, 20), scale=(1.2, 1.2), shear=(10, 10, 5, 5)), T.ToTensor()]),
    T.Compose([T.RandomAffine((0, 0), scale=(0.8, 0.8), fill=255), T.ToTensor()]),
    T.Compose([T.RandomApply([T.RandomRotation((45, 45))], p=1.0), T.ToTensor()]),
    T.Compose([T.RandomVerticalFlip(p=1.0), T.ToTensor()]),
], ids=["brightness", "contrast", "saturation", "hue", "hue-negative", "grayscale",
        "grayscale-one-channel", "rotation", "rotation-fill", "affine", "affine-fill",
        "random-apply", "vertical-flip"])
def test_pil_stage_transforms_match_torchvision_to_the_rounding(transform):
    """Fixed factors: the batched result is torchvision's (PIL's) up to a rounding step on
    a few pixels (PIL's hue works on uint8 HSV, so it is allowed a little more)."""
    batched, per_image = both(transform, blocky())
    assert batched.shape == per_image.shape
    diff = (batched - per_image).abs()
    assert diff.max() <= 7 / 255
    assert (diff > 1.5 / 255).float().mean() < 0.001


def test_bilinear_rotation_is_close_to_pils():
    """PIL and grid_sample treat the border differently under bilinear interpolation;
    inside the image they agree."""
    tf = T.Compose([T.RandomRotation((30, 30), interpolation=T.InterpolationMode.BILINEAR), T.ToTensor()])
    batched, per_image = both(tf, blocky())
    assert (batched - per_image).abs().mean() < 0.02


def test_grayscale_images_go_through_colour_transforms():
    x = blocky(c=1, size=28)
    tf = T.Compose([T.ColorJitter(0.4, 0.4, 0.4, 0.1), T.RandomRotation(15), T.ToTensor(),
                    T.RandomErasing()])
    batched = translate(tf)(torch.from_numpy(x), torch.Generator().manual_seed(0))
    assert batched.shape == (64, 1, 28, 28)


def copies_of_one_image(transform, n=4000, c=3, seed=3):
    x = np.repeat(blocky(n=1, c=c), n, axis=0)
    return both(transform, x, seed=seed)


@pytest.mark.parametrize("transform", [
    T.Compose([T.ColorJitter(0.4, 0.4, 0.4, 0.1), T.ToTensor()]),
    T.Compose([T.RandomRotation(20), T.ToTensor()]),
    T.Compose([T.RandomAffine(10, translate=(0.1, 0.1), scale=(0.9, 1.1), shear=5), T.ToTensor()]),
    T.Compose([T.RandomGrayscale(p=0.3), T.ToTensor()]),
    T.Compose([T.RandomApply([T.ColorJitter(0.8, 0.8, 0.8, 0.2)], p=0.5), T.ToTensor()]),
    T.Compose([T.ToTensor(), T.RandomErasing(p=0.7)]),
    T.Compose([T.ToTensor(), T.RandomErasing(p=1.0, scale=(0.1, 0.5), value=0.5)]),
], ids=["color-jitter", "rotation", "affine", "random-grayscale", "random-apply", "erasing",
        "erasing-value"])
def test_random_transforms_follow_torchvision_in_distribution(transform):
    """Thousands of augmented copies of one image: per pixel, the mean and the spread of
    the batched results agree with torchvision's within sampling error."""
    batched, per_image = copies_of_one_image(transform)
    assert (batched.mean(0) - per_image.mean(0)).abs().max() < 0.05
    assert (batched.std(0) - per_image.std(0)).abs().max() < 0.05
    assert batched.std(0).mean() > 0.01  # it did augment


def test_erasing_random_value_fills_with_noise():
    tf = T.Compose([T.ToTensor(), T.RandomErasing(p=1.0, value="random")])
    batched, per_image = copies_of_one_image(tf, n=1000)
    changed_b = (batched != torch.from_numpy(blocky(n=1)).permute(0, 3, 1, 2) / 255).float().mean()
    changed_p = (per_image != torch.from_numpy(blocky(n=1)).permute(0, 3, 1, 2) / 255).float().mean()
    assert abs(changed_b - changed_p) < 0.03


@pytest.mark.parametrize("transform", [
    T.Compose([T.RandomCrop(32, padding=4, padding_mode="reflect"), T.ToTensor()]),
    T.Compose([T.RandomRotation(10, expand=True), T.ToTensor()]),
    T.Compose([T.RandomRotation(10, center=(3, 3)), T.ToTensor()]),
    T.Compose([T.RandomHorizontalFlip()]),  # no ToTensor: not a tensor pipeline
    T.Compose([T.RandomErasing(), T.ToTensor()]),  # erasing needs a tensor
    T.Compose([T.AutoAugment(), T.ToTensor()]),
    lambda img: T.functional.to_tensor(img),
], ids=["reflect-padding", "rotation-expand", "rotation-centre", "no-totensor",
        "erasing-before-totensor", "autoaugment", "own-callable"])
def test_anything_else_falls_back_to_the_per_image_path(transform):
    assert translate(transform) is None


# The fast paths (#18): a RandomCrop followed by a flip is one gather, ToTensor writes NCHW
# memory directly. Same draws, same images, as the steps one by one.

@pytest.mark.parametrize("crop,flip,c", [
    (T.RandomCrop(32, padding=4), T.RandomHorizontalFlip(), 3),
    (T.RandomCrop(32, padding=4), T.RandomVerticalFlip(p=0.3), 3),
    (T.RandomCrop(28, padding=3), T.RandomHorizontalFlip(), 1),
    (T.RandomCrop(30, padding=(1, 2, 3, 4), fill=7), T.RandomHorizontalFlip(p=0.8), 3),
    (T.RandomCrop(32, padding=(2, 5)), T.RandomHorizontalFlip(p=1.0), 1),
], ids=["cifar-baseline", "vertical", "fashion-baseline", "uneven-padding-fill", "always"])
def test_fused_crop_and_flip_equal_the_two_steps(crop, flip, c):
    """Each step inside a Compose of its own is not fused: the two must agree exactly,
    batch after batch, and leave the generator in the same state."""
    size = 28 if c == 1 and crop.size[0] == 28 else 32
    x = torch.from_numpy(images(n=130, c=c, size=size))
    fused = translate(T.Compose([crop, flip, T.ToTensor()]))
    apart = translate(T.Compose([T.Compose([crop]), T.Compose([flip]), T.ToTensor()]))
    g1, g2 = torch.Generator().manual_seed(7), torch.Generator().manual_seed(7)
    for _ in range(3):
        a, b = fused(x, g1), apart(x, g2)
        assert torch.equal(a, b) and a.stride() == b.stride()
    assert torch.equal(g1.get_state(), g2.get_state())


def test_crop_and_flip_are_those_their_draws_name():
    """Against a plain per-image rewrite of torchvision's RandomCrop then RandomHorizontalFlip
    fed with the same draws (rows, columns, then the flips)."""
    x = torch.from_numpy(images(n=40))
    out = translate(T.Compose([T.RandomCrop(32, padding=4), T.RandomHorizontalFlip(),
                               T.ToTensor()]))(x, torch.Generator().manual_seed(3))
    g = torch.Generator().manual_seed(3)
    i = torch.randint(0, 9, (40,), generator=g)
    j = torch.randint(0, 9, (40,), generator=g)
    flips = torch.rand(40, generator=g) < 0.5
    padded = torch.nn.functional.pad(x.permute(0, 3, 1, 2), (4, 4, 4, 4))
    for k in range(40):
        want = padded[k, :, i[k]:i[k] + 32, j[k]:j[k] + 32]
        want = want.flip(2) if flips[k] else want
        assert torch.equal(out[k], want.float() / 255)


@pytest.mark.parametrize("c", [3, 1])
def test_to_tensor_and_normalize_give_the_same_values_and_strides(c):
    """Values and strides as torchvision image by image then torch.stack (the per-image
    path, the lab's notebook): the strides decide which memory format the convolutions
    pick, hence their arithmetic, and whether a model's x.view(len(x), -1) works. A
    one-channel batch once came out with channels_last's strides."""
    x = torch.from_numpy(images(c=c))
    mean, std = MEAN[:c], STD[:c]
    tf = T.Compose([T.ToTensor(), T.Normalize(mean, std)])
    out = translate(tf)(x, torch.Generator())
    want = torch.stack([tf(to_pil(image)) for image in x.numpy()])
    assert torch.equal(out, want) and out.stride() == want.stride()
    assert not out.is_contiguous(memory_format=torch.channels_last) or c == 1
    assert torch.nn.Conv2d(c, 4, 3)(out).is_contiguous()  # NCHW convolutions, as in the notebook
    assert torch.equal(x, torch.from_numpy(images(c=c)))  # the caller's images untouched
