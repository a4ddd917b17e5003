"""The fixed-budget training loop. The grader owns the loop; the student's hooks supply
the pieces (transforms, model, optimizer, loss, scheduler, knobs).

Fairness: the student and the baseline, at the same seed, see the same sample order
(a seeded permutation per epoch, independent of batch size) and the same augmentation
random stream (a dedicated RNG state, so model init and Dropout draws do not shift it).
"""
from __future__ import annotations

import copy
import math
import time
from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch
from PIL import Image

from grader.augment import translate
from grader.failures import SubmissionError

PROGRESS_EVERY = 20  # steps between progress events (each one syncs the device once)


@dataclass(frozen=True)
class TrainConfig:
    epochs: int
    batch_size: int
    grad_clip_norm: float | None
    early_stopping_patience: int | None
    scheduler_step: str
    seed: int
    device: str
    eval_batch_size: int = 1000


class AugmentStream:
    """Runs transforms on their own torch RNG stream, seeded once per run."""

    def __init__(self, seed: int):
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            self.state = torch.get_rng_state()

    def __call__(self, fn):
        with torch.random.fork_rng(devices=[]):
            torch.set_rng_state(self.state)
            out = fn()
            self.state = torch.get_rng_state()
        return out


def to_pil(image: np.ndarray) -> Image.Image:
    """[H, W, C] uint8 -> the PIL image torchvision's transforms expect."""
    return Image.fromarray(image[..., 0], mode="L") if image.shape[-1] == 1 else Image.fromarray(image)


def transform_batch(images: np.ndarray, transform: Callable, which: str) -> torch.Tensor:
    out = []
    for img in images:
        t = transform(to_pil(img))
        if not torch.is_tensor(t) or t.dim() != 3:
            raise SubmissionError(
                "bad_transform", f"build_{which}_transform(info) returned a transform whose output "
                "is not a [C, H, W] tensor",
                expected="a float tensor [C, H, W]",
                got=type(t).__name__ if not torch.is_tensor(t) else f"tensor {list(t.shape)}",
                hint="End the Compose with T.ToTensor() (and T.Normalize after it).")
        out.append(t)
    shapes = {tuple(t.shape) for t in out}
    if len(shapes) > 1:
        raise SubmissionError("bad_transform", f"build_{which}_transform(info) gives images of "
                              f"different sizes: {sorted(shapes)}",
                              hint="Random resizes must end at one fixed size (e.g. RandomResizedCrop(size)).")
    return torch.stack(out)


class Batches:
    """Turns uint8 images into a model's input batch: on whole batches with a random draw
    per image when the pipeline is one grader.augment recognises, else image by image
    through torchvision (on its own RNG stream either way, seeded once per run)."""

    def __init__(self, transform, which: str, seed: int):
        self.transform, self.which = transform, which
        self.batched = translate(transform)
        self.path = "batched" if self.batched else "per-image"
        self.gen = torch.Generator().manual_seed(seed)
        self.stream = AugmentStream(seed)

    def __call__(self, images: np.ndarray) -> torch.Tensor:
        if self.batched:
            return self.batched(torch.from_numpy(np.ascontiguousarray(images)), self.gen)
        return self.stream(lambda: transform_batch(images, self.transform, self.which))


@torch.no_grad()
def predict(model, images: np.ndarray, batches: Batches, device: str,
            batch_size: int = 1000) -> torch.Tensor:
    """Logits for every image, in order, on the CPU."""
    model.eval()
    chunks = []
    for start in range(0, len(images), batch_size):
        x = batches(images[start:start + batch_size]).to(device)
        chunks.append(model(x).float().cpu())
    return torch.cat(chunks)


def train(model, hooks, x: np.ndarray, y: torch.Tensor, train_idx: np.ndarray,
          val_idx: np.ndarray, cfg: TrainConfig, info, emit: Callable[[dict], None]) -> dict:
    """Train `model` in place under `cfg`; return the per-epoch history and timings, and
    the test-time batch maker for predicting the test set."""
    device = cfg.device
    n = len(train_idx)
    steps_per_epoch = math.ceil(n / cfg.batch_size)
    train_batches = Batches(hooks.build_train_transform(info), "train", cfg.seed + 1)
    test_batches = Batches(hooks.build_test_transform(info), "test", cfg.seed + 2)
    optimizer = _call(hooks.build_optimizer, model, expect=torch.optim.Optimizer)
    loss_fn = _call(hooks.build_loss)
    scheduler = _call(hooks.build_scheduler, optimizer, cfg.epochs, steps_per_epoch)
    order = torch.Generator().manual_seed(cfg.seed)
    val_y = y[val_idx]
    history, best_acc, best_state, best_epoch, stale = [], -1.0, None, 0, 0
    emit({"event": "train_start", "epochs": cfg.epochs, "steps_per_epoch": steps_per_epoch})
    t_train = time.perf_counter()

    for epoch in range(1, cfg.epochs + 1):
        t_epoch = time.perf_counter()
        model.train()
        perm = train_idx[torch.randperm(n, generator=order).numpy()]
        loss_sum = torch.zeros((), device=device)
        for step in range(steps_per_epoch):
            idx = perm[step * cfg.batch_size:(step + 1) * cfg.batch_size]
            xb = train_batches(x[idx]).to(device)
            yb = y[idx].to(device)
            loss = loss_fn(model(xb), yb)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if cfg.grad_clip_norm:
                torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip_norm)
            optimizer.step()
            if scheduler is not None and cfg.scheduler_step == "batch":
                scheduler.step()
            loss_sum += loss.detach() * len(idx)
            if step % PROGRESS_EVERY == 0 or step == steps_per_epoch - 1:
                value = loss.item()  # one sync per PROGRESS_EVERY steps
                _check_finite(value, epoch, step + 1)
                emit({"event": "step", "epoch": epoch, "step": step + 1, "loss": value})
        if scheduler is not None and cfg.scheduler_step == "epoch":
            scheduler.step()
        train_loss = loss_sum.item() / n
        _check_finite(train_loss, epoch, steps_per_epoch)
        val_logits = predict(model, x[val_idx], test_batches, device, cfg.eval_batch_size)
        val_acc = (val_logits.argmax(1) == val_y).float().mean().item()
        record = {"epoch": epoch, "train_loss": train_loss, "val_accuracy": val_acc,
                  "seconds": time.perf_counter() - t_epoch}
        history.append(record)
        emit({"event": "epoch", **record})
        if val_acc > best_acc:
            best_acc, best_epoch, stale = val_acc, epoch, 0
            if cfg.early_stopping_patience:
                best_state = copy.deepcopy(model.state_dict())
        else:
            stale += 1
        if cfg.early_stopping_patience and stale >= cfg.early_stopping_patience:
            break

    if best_state is not None:  # early stopping keeps the best epoch's weights
        model.load_state_dict(best_state)
    return {"history": history, "best_epoch": best_epoch, "epochs_run": len(history),
            "stopped_early": len(history) < cfg.epochs, "steps_per_epoch": steps_per_epoch,
            "train_seconds": time.perf_counter() - t_train,
            "pipeline": {"train": train_batches.path, "test": test_batches.path}}, test_batches


def _call(hook, *args, expect=None):
    name = getattr(hook, "__name__", "a hook")
    result = hook(*args)
    if expect is not None and not isinstance(result, expect):
        raise SubmissionError("bad_hook", f"{name} returned the wrong kind of object",
                              expected=expect.__module__ + "." + expect.__name__,
                              got=type(result).__name__)
    return result


def _check_finite(value: float, epoch: int, step: int):
    if not math.isfinite(value):
        raise SubmissionError(
            "non_finite_loss", f"the training loss became {value} at epoch {epoch}, step {step}",
            hint="Usually a learning rate too high for the optimizer; try a lower lr, "
                 "GRAD_CLIP_NORM = 1.0, or BatchNorm. A custom loss may also divide by zero or "
                 "take the log of 0.")
