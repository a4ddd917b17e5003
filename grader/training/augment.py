"""Batched augmentation: a student's torchvision pipeline run on a whole batch of uint8
images at once, on the training device, with its own random draw for every image, as
torchvision's per-image semantics demand (torchvision's v2 transforms applied to a batch
draw once for the whole batch, which silently weakens augmentation).

`translate` recognises the transforms the lab teaches: Compose, RandomApply, RandomCrop
(constant padding), RandomHorizontalFlip, RandomVerticalFlip, ColorJitter, RandomRotation,
RandomAffine, Grayscale, RandomGrayscale, ToTensor, Normalize and RandomErasing. Any other
step (or a student's own callable) makes it return None and the grader falls back to the
per-image path, which the report names.

Before ToTensor images stay uint8 and every step rounds back to uint8, as PIL does; after
it they are floats in [0, 1]. Layout is NHWC throughout, NCHW at the end.
"""
from __future__ import annotations

import math
from typing import Callable

import torch
import torch.nn.functional as F
from torchvision import transforms as T
from torchvision.transforms import InterpolationMode

Step = Callable[[torch.Tensor, torch.Generator], torch.Tensor]
GRAY_WEIGHTS = (0.299, 0.587, 0.114)  # ITU-R 601-2, as PIL's convert("L")


def translate(transform) -> Callable[[torch.Tensor, torch.Generator], torch.Tensor] | None:
    """A function (uint8 [N, H, W, C], generator) -> float [N, C, H, W], or None."""
    steps, floated = _steps(transform, floated=False)
    if steps is None or not floated:
        return None

    def run(images: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
        x = images
        for step in steps:
            x = step(x, gen)
        x = x.permute(0, 3, 1, 2).contiguous()
        # view(shape) re-derives the strides torch.stack of ToTensor outputs has (the
        # per-image path, the lab's notebook). A one-channel batch is contiguous either way,
        # but with NHWC's channel stride the convolutions pick channels_last, and a model
        # that flattens with x.view(len(x), -1) after them fails (view needs NCHW memory).
        return x.view(x.shape)
    return run


def _steps(transform, floated: bool) -> tuple[list[Step] | None, bool]:
    parts = transform.transforms if isinstance(transform, T.Compose) else [transform]
    steps: list[Step] = []
    fused = None  # a flip already folded into the crop before it
    for k, t in enumerate(parts):
        if t is fused:
            continue
        step = None
        if isinstance(t, T.Compose):
            inner, floated = _steps(t, floated)
            if inner is None:
                return None, floated
            steps += inner
            continue
        kind = type(t)
        if kind is T.RandomApply:
            inner, after = _steps(T.Compose(list(t.transforms)), floated)
            if inner is not None and after == floated:
                step = _random_apply(inner, t.p)
        elif kind is T.ToTensor and not floated:
            step, floated = _to_tensor, True
        elif kind is T.Normalize and floated:
            step = _normalize(t.mean, t.std)
        elif kind in (T.RandomHorizontalFlip, T.RandomVerticalFlip):
            step = _flip(t.p, dim=2 if kind is T.RandomHorizontalFlip else 1)
        elif kind is T.RandomCrop and not floated:
            after = parts[k + 1] if k + 1 < len(parts) else None
            if type(after) in (T.RandomHorizontalFlip, T.RandomVerticalFlip):
                step = _random_crop(t, after)
                fused = after if step is not None else None
            else:
                step = _random_crop(t)
        elif kind is T.ColorJitter and not floated:
            step = _color_jitter(t)
        elif kind is T.Grayscale and not floated:
            step = _grayscale(1.0, t.num_output_channels)
        elif kind is T.RandomGrayscale and not floated:
            step = _grayscale(t.p, None)
        elif kind is T.RandomRotation and not floated:
            step = _rotation(t)
        elif kind is T.RandomAffine and not floated:
            step = _affine(t)
        elif kind is T.RandomErasing and floated:
            step = _erasing(t)
        if step is None:
            return None, floated
        steps.append(step)
    return steps, floated


def _uniform(n: int, low: float, high: float, gen: torch.Generator, device) -> torch.Tensor:
    return torch.rand(n, generator=gen, device=device) * (high - low) + low


def _to_uint8(x: torch.Tensor) -> torch.Tensor:
    return x.round_().clamp_(0, 255).to(torch.uint8)


def _per_image(values: torch.Tensor) -> torch.Tensor:
    return values[:, None, None, None]


def _to_tensor(x: torch.Tensor, gen) -> torch.Tensor:
    """uint8 -> float in [0, 1], written straight into NCHW memory (one pass for the type
    and the layout) and handed on as an NHWC view of it: the later steps see NHWC as
    before, and the final permute to NCHW costs nothing. Values as x.float() / 255."""
    n, h, w, c = x.shape
    if c == 1:  # one layout already (translate's run gives it NCHW's strides)
        return x.float().div_(255)
    out = torch.empty((n, c, h, w), dtype=torch.float32, device=x.device)
    out.copy_(x.permute(0, 3, 1, 2))
    return out.div_(255).permute(0, 2, 3, 1)


def _normalize(mean, std) -> Step:
    def normalize(x, gen):
        m = torch.as_tensor(mean, dtype=x.dtype, device=x.device)
        s = torch.as_tensor(std, dtype=x.dtype, device=x.device)
        # in place, the same two operations as (x - m) / s: a float batch is always a step's
        # own fresh output (ToTensor makes one), never the caller's images
        return x.sub_(m).div_(s)
    return normalize


def _random_apply(inner: list[Step], p: float) -> Step:
    def apply(x, gen):
        chosen = torch.rand(x.shape[0], generator=gen, device=x.device) < p
        sub = x[chosen]
        for step in inner:
            sub = step(sub, gen)
        out = x.clone()
        out[chosen] = sub
        return out
    return apply


def _flip(p: float, dim: int) -> Step:
    def flip(x, gen):
        chosen = torch.rand(x.shape[0], generator=gen, device=x.device) < p
        return torch.where(_per_image(chosen), x.flip(dim), x)
    return flip


def _random_crop(t: T.RandomCrop, flip=None) -> Step | None:
    """RandomCrop with constant padding, and, when `flip` (a RandomHorizontalFlip or
    RandomVerticalFlip that comes right after it) is given, that flip too: one gather from
    the padded batch, the flip folded into the gather's indices. The draws are made in the
    order of the two separate steps (rows, columns, then the flip's), so the stream and the
    images are exactly those of the crop followed by the flip."""
    if t.pad_if_needed or t.padding_mode != "constant" or not isinstance(t.fill, (int, float)):
        return None
    th, tw = t.size
    pad = t.padding
    if isinstance(pad, int):
        pad = (pad, pad, pad, pad)
    elif pad is None:
        pad = (0, 0, 0, 0)
    elif len(pad) == 2:
        pad = (pad[0], pad[1], pad[0], pad[1])
    left, top, right, bottom = pad  # torchvision's order
    flip_cols = type(flip) is T.RandomHorizontalFlip

    def crop(x, gen):
        n, h, w, c = x.shape
        dev = x.device
        hp, wp = h + top + bottom, w + left + right
        padded = torch.full((n, hp, wp, c), t.fill, dtype=x.dtype, device=dev)
        padded[:, top:top + h, left:left + w] = x
        # torchvision: i ~ U{0..H+pad-th}, j ~ U{0..W+pad-tw}, drawn per image
        i = torch.randint(0, hp - th + 1, (n,), generator=gen, device=dev)
        j = torch.randint(0, wp - tw + 1, (n,), generator=gen, device=dev)
        rows = i[:, None] + torch.arange(th, device=dev)  # [N, th]
        cols = j[:, None] + torch.arange(tw, device=dev)  # [N, tw]
        if flip is not None:
            chosen = (torch.rand(n, generator=gen, device=dev) < flip.p)[:, None]
            if flip_cols:
                cols = torch.where(chosen, cols.flip(1), cols)
            else:
                rows = torch.where(chosen, rows.flip(1), rows)
        # pixel (image, row, column) of the padded batch, each pixel a row of c values
        at = (torch.arange(n, device=dev)[:, None, None] * (hp * wp)
              + rows[:, :, None] * wp + cols[:, None, :])
        return padded.view(n * hp * wp, c).index_select(0, at.view(-1)).view(n, th, tw, c)
    return crop


# ColorJitter. Factors follow torchvision's adjust_* functions, image by image; the four
# adjustments run in an order drawn per image, as ColorJitter.get_params does.

def _gray(x: torch.Tensor) -> torch.Tensor:
    """[N, H, W, C] float -> [N, H, W, 1] luma (the image itself when it has one channel)."""
    if x.shape[-1] == 1:
        return x
    return (x * torch.tensor(GRAY_WEIGHTS, dtype=x.dtype, device=x.device)).sum(-1, keepdim=True)


def _blend(a: torch.Tensor, b: torch.Tensor, factor: torch.Tensor) -> torch.Tensor:
    return (_per_image(factor) * a + (1 - _per_image(factor)) * b).clamp_(0, 255)


def _brightness(x, f):
    return _blend(x, torch.zeros_like(x), f)


def _contrast(x, f):
    mean = _gray(x).mean(dim=(1, 2, 3), keepdim=True).round()  # PIL rounds the mean to an int
    return _blend(x, mean.expand_as(x), f)


def _saturation(x, f):
    return x if x.shape[-1] == 1 else _blend(x, _gray(x).expand_as(x), f)


def _hue(x, f):
    if x.shape[-1] == 1:  # PIL leaves a grayscale image's hue alone
        return x
    # PIL works on uint8 H, S and V and adds uint8(factor * 255) to H, wrapping around
    h, s, v = _rgb_to_hsv(x / 255)
    h, s, v = (h * 255 + 1e-4).floor(), (s * 255 + 1e-4).floor(), (v * 255).round()
    h = (h + torch.trunc(_per_image(f)[..., 0] * 255)) % 256
    return _hsv_to_rgb(h / 255, s / 255, v / 255) * 255


def _rgb_to_hsv(x):
    r, g, b = x.unbind(-1)
    maxc, minc = x.max(-1).values, x.min(-1).values
    delta = maxc - minc
    safe = torch.where(delta > 0, delta, torch.ones_like(delta))
    s = torch.where(maxc > 0, delta / torch.where(maxc > 0, maxc, torch.ones_like(maxc)), 0.0)
    rc, gc, bc = (maxc - r) / safe, (maxc - g) / safe, (maxc - b) / safe
    h = torch.where(maxc == r, bc - gc, torch.where(maxc == g, 2.0 + rc - bc, 4.0 + gc - rc))
    h = torch.where(delta > 0, (h / 6.0) % 1.0, 0.0)
    return h, s, maxc


def _hsv_to_rgb(h, s, v):
    i = torch.floor(h * 6.0)
    f = h * 6.0 - i
    i = i.long() % 6
    p, q, t = v * (1 - s), v * (1 - s * f), v * (1 - s * (1 - f))
    choices = [(v, t, p), (q, v, p), (p, v, t), (p, q, v), (t, p, v), (v, p, q)]
    out = torch.zeros(*h.shape, 3, dtype=h.dtype, device=h.device)
    for k, (r, g, b) in enumerate(choices):
        mask = (i == k)[..., None]
        out = torch.where(mask, torch.stack([r, g, b], -1), out)
    return out


def _color_jitter(t: T.ColorJitter) -> Step:
    adjust = [(t.brightness, _brightness), (t.contrast, _contrast),
              (t.saturation, _saturation), (t.hue, _hue)]

    def jitter(x, gen):
        n, dev = x.shape[0], x.device
        order = torch.rand(n, 4, generator=gen, device=dev).argsort(1)  # a random order per image
        factors = [None if rng is None else _uniform(n, rng[0], rng[1], gen, dev)
                   for rng, _ in adjust]
        out = x.float()
        for position in range(4):
            for k, (rng, fn) in enumerate(adjust):
                chosen = order[:, position] == k
                if rng is None or not chosen.any():
                    continue
                # PIL rounds to uint8 after every adjustment
                out[chosen] = fn(out[chosen], factors[k][chosen]).round_()
        return _to_uint8(out)
    return jitter


def _grayscale(p: float, channels: int | None) -> Step:
    def gray(x, gen):
        chosen = torch.rand(x.shape[0], generator=gen, device=x.device) < p
        luma = _to_uint8(_gray(x.float()))
        out_c = channels or x.shape[-1]
        converted = luma.expand(*x.shape[:3], out_c)
        if out_c != x.shape[-1]:
            return converted.contiguous()
        return torch.where(_per_image(chosen), converted, x)
    return gray


# RandomRotation and RandomAffine: one inverse affine matrix per image (torchvision's
# _get_inverse_affine_matrix, vectorised), sampled with grid_sample like its tensor path.

def _geometry_ok(t) -> bool:
    return (t.center is None and isinstance(t.fill, (int, float))
            and t.interpolation in (InterpolationMode.NEAREST, InterpolationMode.BILINEAR))


def _rotation(t: T.RandomRotation) -> Step | None:
    if t.expand or not _geometry_ok(t):
        return None

    def rotate(x, gen):
        n, dev = x.shape[0], x.device
        angle = _uniform(n, t.degrees[0], t.degrees[1], gen, dev)
        zero = torch.zeros(n, device=dev)
        # F.rotate's tensor path passes -angle to the affine matrix (PIL's convention)
        return _warp(x, -angle, zero, zero, torch.ones(n, device=dev), zero, zero, t)
    return rotate


def _affine(t: T.RandomAffine) -> Step | None:
    if not _geometry_ok(t):
        return None

    def affine(x, gen):
        n, h, w, _ = x.shape
        dev = x.device
        angle = _uniform(n, t.degrees[0], t.degrees[1], gen, dev)
        tx = ty = torch.zeros(n, device=dev)
        if t.translate is not None:
            max_dx, max_dy = t.translate[0] * w, t.translate[1] * h
            tx = _uniform(n, -max_dx, max_dx, gen, dev).round()
            ty = _uniform(n, -max_dy, max_dy, gen, dev).round()
        scale = torch.ones(n, device=dev) if t.scale is None else _uniform(n, *t.scale, gen, dev)
        shx = shy = torch.zeros(n, device=dev)
        if t.shear is not None:
            shx = _uniform(n, t.shear[0], t.shear[1], gen, dev)
            if len(t.shear) == 4:
                shy = _uniform(n, t.shear[2], t.shear[3], gen, dev)
        return _warp(x, angle, tx, ty, scale, shx, shy, t)
    return affine


def _warp(x, angle, tx, ty, scale, shx, shy, t) -> torch.Tensor:
    n, h, w, c = x.shape
    rot, sx, sy = torch.deg2rad(angle), torch.deg2rad(shx), torch.deg2rad(shy)
    a = torch.cos(rot - sy) / torch.cos(sy)
    b = -torch.cos(rot - sy) * torch.tan(sx) / torch.cos(sy) - torch.sin(rot)
    cc = torch.sin(rot - sy) / torch.cos(sy)
    d = -torch.sin(rot - sy) * torch.tan(sx) / torch.cos(sy) + torch.cos(rot)
    inv = torch.stack([d, -b, -cc, a], -1).view(n, 2, 2) / scale[:, None, None]
    shift = -(inv @ torch.stack([tx, ty], -1)[..., None])[..., 0]  # centre at 0
    theta = torch.cat([inv, shift[..., None]], -1)  # [N, 2, 3], output -> input pixels
    ys = torch.arange(h, device=x.device, dtype=torch.float32) - h * 0.5 + 0.5
    xs = torch.arange(w, device=x.device, dtype=torch.float32) - w * 0.5 + 0.5
    base = torch.stack([xs.expand(h, w), ys[:, None].expand(h, w), torch.ones(h, w, device=x.device)], -1)
    grid = base.view(1, h * w, 3) @ theta.transpose(1, 2)  # [N, HW, 2]
    grid = (grid / torch.tensor([0.5 * w, 0.5 * h], device=x.device)).view(n, h, w, 2)
    img = x.permute(0, 3, 1, 2).float()
    img = torch.cat([img, torch.ones_like(img[:, :1])], 1)  # last channel: inside the image
    mode = "nearest" if t.interpolation == InterpolationMode.NEAREST else "bilinear"
    out = F.grid_sample(img, grid, mode=mode, padding_mode="zeros", align_corners=False)
    inside = out[:, -1:]
    out = out[:, :-1] * inside + float(t.fill) * (1 - inside)
    return _to_uint8(out.permute(0, 2, 3, 1))


def _erasing(t: T.RandomErasing) -> Step | None:
    if isinstance(t.value, str) and t.value != "random":
        return None
    tries = 10  # as RandomErasing.get_params

    def erase(x, gen):
        n, h, w, c = x.shape
        dev = x.device
        chosen = torch.rand(n, generator=gen, device=dev) < t.p
        area = h * w * _uniform(n * tries, t.scale[0], t.scale[1], gen, dev).view(n, tries)
        log_lo, log_hi = math.log(t.ratio[0]), math.log(t.ratio[1])
        aspect = torch.exp(_uniform(n * tries, log_lo, log_hi, gen, dev)).view(n, tries)
        eh = torch.sqrt(area * aspect).round().long()
        ew = torch.sqrt(area / aspect).round().long()
        fits = (eh < h) & (ew < w)
        first = fits.float().argmax(1)  # the first try that fits, as torchvision takes it
        pick = torch.arange(n, device=dev)
        eh, ew = eh[pick, first], ew[pick, first]
        chosen &= fits.any(1)  # ten misses: torchvision leaves the image alone
        i = (torch.rand(n, generator=gen, device=dev) * (h - eh + 1)).long()
        j = (torch.rand(n, generator=gen, device=dev) * (w - ew + 1)).long()
        rows = torch.arange(h, device=dev)[None, :]
        cols = torch.arange(w, device=dev)[None, :]
        inside = (((rows >= i[:, None]) & (rows < (i + eh)[:, None]))[:, :, None]
                  & ((cols >= j[:, None]) & (cols < (j + ew)[:, None]))[:, None, :])
        mask = (inside & _per_image(chosen)[..., 0])[..., None]
        if t.value == "random":
            fill = torch.randn(x.shape, generator=gen, device=dev, dtype=x.dtype)
        else:
            fill = torch.as_tensor(t.value, dtype=x.dtype, device=dev).expand(c) \
                if not isinstance(t.value, (int, float)) else torch.tensor(float(t.value), device=dev)
        return torch.where(mask, fill, x)
    return erase
