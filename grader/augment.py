"""Batched augmentation: a student's torchvision pipeline run on a whole batch of uint8
images at once, with its own random draw for every image, as torchvision's per-image
semantics demand (torchvision's v2 transforms applied to a batch draw once for the whole
batch, which silently weakens augmentation).

`translate` recognises Compose, RandomCrop (constant padding), RandomHorizontalFlip,
ToTensor and Normalize; any other step (or a student's own callable) returns None and
the grader falls back to the per-image path, which the report names.
"""
from __future__ import annotations

from typing import Callable

import torch
from torchvision import transforms as T

Step = Callable[[torch.Tensor, torch.Generator], torch.Tensor]


def translate(transform) -> Callable[[torch.Tensor, torch.Generator], torch.Tensor] | None:
    """A function (uint8 [N, H, W, C], generator) -> float [N, C, H, W], or None."""
    steps = _steps(transform)
    if steps is None:
        return None

    def run(images: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
        x = images  # NHWC throughout: uint8 before ToTensor, float after
        for step in steps:
            x = step(x, gen)
        return x.permute(0, 3, 1, 2).contiguous()
    return run


def _steps(transform) -> list[Step] | None:
    parts = transform.transforms if isinstance(transform, T.Compose) else [transform]
    steps: list[Step] = []
    floated = False
    for t in parts:
        if isinstance(t, T.Compose):
            inner = _steps(t)
            if inner is None:
                return None
            steps += inner
        elif type(t) is T.RandomCrop and not t.pad_if_needed and t.padding_mode == "constant" \
                and isinstance(t.fill, (int, float)) and not floated:
            steps.append(_random_crop(t))
        elif type(t) is T.RandomHorizontalFlip:
            steps.append(_flip(t.p))
        elif type(t) is T.ToTensor and not floated:
            steps.append(lambda x, g: x.float().div_(255))
            floated = True
        elif type(t) is T.Normalize and floated:
            mean, std = torch.tensor(t.mean), torch.tensor(t.std)
            steps.append(lambda x, g, m=mean, s=std: (x - m) / s)
        else:
            return None
    return steps if floated else None


def _random_crop(t: T.RandomCrop) -> Step:
    th, tw = t.size
    pad = t.padding
    if isinstance(pad, int):
        pad = (pad, pad, pad, pad)
    elif pad is None:
        pad = (0, 0, 0, 0)
    elif len(pad) == 2:
        pad = (pad[0], pad[1], pad[0], pad[1])
    left, top, right, bottom = pad  # torchvision's order

    def crop(x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
        n, h, w, c = x.shape
        padded = torch.full((n, h + top + bottom, w + left + right, c), t.fill, dtype=x.dtype)
        padded[:, top:top + h, left:left + w] = x
        # torchvision: i ~ U{0..H+pad-th}, j ~ U{0..W+pad-tw}, drawn per image
        i = torch.randint(0, padded.shape[1] - th + 1, (n,), generator=gen)
        j = torch.randint(0, padded.shape[2] - tw + 1, (n,), generator=gen)
        rows = (i[:, None] + torch.arange(th))[:, :, None]
        cols = (j[:, None] + torch.arange(tw))[:, None, :]
        return padded[torch.arange(n)[:, None, None], rows, cols]
    return crop


def _flip(p: float) -> Step:
    def flip(x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
        chosen = torch.rand(x.shape[0], generator=gen) < p
        return torch.where(chosen[:, None, None, None], x.flip(2), x)
    return flip
