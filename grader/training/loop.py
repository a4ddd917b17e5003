"""The fixed-budget training loop. The grader owns the loop; the student's hooks supply
the pieces (transforms, model, optimizer, loss, scheduler, knobs).

Fairness: the student and the baseline, at the same seed, see the same sample order
(a seeded permutation per epoch, independent of batch size) and the same augmentation
random stream (its own generator, so model init and Dropout draws do not shift it).
"""
from __future__ import annotations

import copy
import hashlib
import inspect
import math
import time
from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch

from grader.training.batches import Batches, Images
from grader.failures import SubmissionError
from grader.i18n import _, ngettext

PROGRESS_EVERY = 20  # steps between progress events (each one syncs the device once)


@dataclass
class Ledger:
    """What training did in this process, counted by the loop's own code and by a hook
    on every torch optimizer, for the parent to hold against the budget
    (grader.inspection.audit). Student code runs in the same process and could reach
    this object too: it catches a submission that trains more than its budget by calling
    the loop again or stepping an optimizer of its own, not one that also finds and
    rewrites these counters (the README's Security section says what is detectable)."""
    calls: int = 0          # train() entered
    steps: int = 0          # optimizer steps the loop made, over every call
    outside_steps: int = 0  # steps of any torch optimizer while the loop was not stepping


LEDGER = Ledger()
_IN_LOOP_STEP = [False]


def watch_optimizers() -> None:
    """Count every torch optimizer's step() that is not the loop's own (installed by the
    worker before the submission is imported). Steps inside the loop's call count as
    that one step, so a wrapper that steps a base optimizer (SAM, Lookahead) is one step."""
    from torch.optim.optimizer import register_optimizer_step_post_hook

    def counted(_optimizer, _args, _kwargs):
        if not _IN_LOOP_STEP[0]:
            LEDGER.outside_steps += 1
    register_optimizer_step_post_hook(counted)


@dataclass(frozen=True)
class TrainConfig:
    epochs: int
    batch_size: int
    grad_clip_norm: float | None
    early_stopping_patience: int | None
    scheduler_step: str
    seed: int
    device: str
    # prediction batches: on a CPU, 1,000 images at a time spill the caches (TinyCNN on
    # 10,000 CIFAR-10 images: 3.4 s at 1,000, 1.5 s at 128, median of 5); a GPU wants them large
    eval_batch_size: int | None = None  # None: 1,000 on CUDA, 128 on the CPU
    loader_workers: int = 0         # per-image path only
    channels_last: bool = False     # rubric switches, the same for student and baseline
    mixed_precision: bool = False


def train(model, hooks, x: np.ndarray, y: torch.Tensor, train_idx: np.ndarray,
          val_idx: np.ndarray, cfg: TrainConfig, info, emit: Callable[[dict], None],
          transforms: dict | None = None, locate: Callable | None = None):
    """Train `model` in place under `cfg`; return the per-epoch history and timings, and
    the test-time batch maker for predicting the test set. `transforms`: the train and
    test transforms already built from the hooks (the worker builds and checks them
    first); built here when not given. `locate(hook)`: where a hook returns in the
    student's source ("improvements.py, line 12", or ""), for the messages and notes."""
    LEDGER.calls += 1
    locate = locate or (lambda fn: "")
    device = cfg.device
    n = len(train_idx)
    steps_per_epoch = math.ceil(n / cfg.batch_size)
    images = Images(x, device)
    transforms = transforms or {"train": hooks.build_train_transform(info),
                                "test": hooks.build_test_transform(info)}
    train_batches = Batches(transforms["train"], "train", cfg.seed + 1, device, cfg.loader_workers)
    test_batches = Batches(transforms["test"], "test", cfg.seed + 2, device, cfg.loader_workers)
    if cfg.channels_last:
        model.to(memory_format=torch.channels_last)
    optimizer = _call(hooks.build_optimizer, model, expect=torch.optim.Optimizer)
    loss_fn = _loss(hooks.build_loss, locate)
    scheduler = _call(hooks.build_scheduler, optimizer, cfg.epochs, steps_per_epoch)
    metric = _scheduler_notes(scheduler, hooks, cfg, steps_per_epoch, locate)
    shuffle = torch.Generator().manual_seed(cfg.seed)
    train_idx, val_idx = torch.from_numpy(train_idx), torch.from_numpy(val_idx)
    y_dev, val_y = y.to(device), y[val_idx]
    history, best_acc, best_state, best_epoch, stale = [], -1.0, None, 0, 0
    stream = hashlib.sha256()  # the random stream this run drew (stream_digest)
    emit({"event": "train_start", "epochs": cfg.epochs, "steps_per_epoch": steps_per_epoch})
    t_train = time.perf_counter()

    for epoch in range(1, cfg.epochs + 1):
        t_epoch = time.perf_counter()
        model.train()
        order = train_idx[torch.randperm(n, generator=shuffle)]
        labels = y_dev[order.to(device)]
        loss_sum = torch.zeros((), device=device)
        waited = [0.0]  # seconds spent making batches (on CUDA: launching their kernels)
        for step, xb in enumerate(_timed(train_batches(images, order, cfg.batch_size), waited)):
            yb = labels[step * cfg.batch_size:(step + 1) * cfg.batch_size]
            if epoch == 1 and step == 0:
                hash_tensor(stream, xb)
                hash_tensor(stream, yb)
            with _precision(cfg):
                loss = loss_fn(model(_layout(xb, cfg)), yb)
            optimizer.zero_grad()  # torch's default sets to None; wrappers take no argument
            loss.backward()
            if cfg.grad_clip_norm:
                torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip_norm)
            _IN_LOOP_STEP[0] = True
            try:
                optimizer.step()
            finally:
                _IN_LOOP_STEP[0] = False
            LEDGER.steps += 1
            if scheduler is not None and cfg.scheduler_step == "batch" and metric is None:
                scheduler.step()
            loss_sum += loss.detach().float() * len(yb)
            if step % PROGRESS_EVERY == 0 or step == steps_per_epoch - 1:
                value = loss.item()  # the loop's only host sync, once per PROGRESS_EVERY steps
                _check_finite(value, epoch, step + 1)
                emit({"event": "step", "epoch": epoch, "step": step + 1, "loss": value})
        if scheduler is not None and cfg.scheduler_step == "epoch" and metric is None:
            scheduler.step()
        train_loss = loss_sum.item() / n
        _check_finite(train_loss, epoch, steps_per_epoch)
        t_val = time.perf_counter()
        val_logits = predict(model, images, test_batches, cfg, val_idx)
        val_acc = (val_logits.argmax(1) == val_y).float().mean().item()
        if metric == "accuracy":  # ReduceLROnPlateau and the like: after validation
            scheduler.step(val_acc)
        elif metric == "loss":
            scheduler.step(torch.nn.functional.cross_entropy(val_logits, val_y).item())
        elif metric == "epoch":
            scheduler.step(epoch)
        record = {"epoch": epoch, "train_loss": train_loss, "val_accuracy": val_acc,
                  "seconds": time.perf_counter() - t_epoch,
                  "val_seconds": time.perf_counter() - t_val,  # bench/compute_floor.py
                  "data_seconds": waited[0]}
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
            "pipeline": {"train": train_batches.path, "test": test_batches.path},
            "stream_digest": _stream_digest(stream)}, test_batches


def hash_tensor(h, t: torch.Tensor, prefix: str = "") -> None:
    """Feed a tensor (dtype, shape, bytes) to the hash `h`: the stream digest's first
    batch here, the initial weights' digest in the re-measuring child."""
    t = t.detach().cpu().contiguous()
    h.update(f"{prefix}{t.dtype}\0{tuple(t.shape)}\0".encode())
    h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes())


def _stream_digest(h) -> str:
    """What a run drew from random streams: the first batch it trained on (the data order
    and the augmentation's draws) and, at the end, the state of every global generator
    (torch's, CUDA's, NumPy's, Python's), which dropout or any random op in the model moves.
    Two runs from the same initial weights move together seed by seed only where this is
    equal too (measured: a change of the optimizer, loss or schedule, r 0.96-1.00; dropout,
    r 0.38; docs/scoring.md), so the grader pairs a run with the baseline's only then."""
    import pickle
    import random
    h.update(torch.get_rng_state().numpy().tobytes())
    if torch.cuda.is_initialized():
        for state in torch.cuda.get_rng_state_all():
            h.update(state.numpy().tobytes())
    h.update(pickle.dumps(np.random.get_state()))
    h.update(pickle.dumps(random.getstate()))
    return h.hexdigest()[:32]


@torch.no_grad()
def predict(model, images: Images, batches: Batches, cfg: TrainConfig,
            order: torch.Tensor | None = None) -> torch.Tensor:
    """Logits for images[order] (all of them by default), in order, on the CPU."""
    model.eval()
    order = torch.arange(len(images)) if order is None else order
    with _precision(cfg):
        size = cfg.eval_batch_size or (1000 if cfg.device.startswith("cuda") else 128)
        chunks = [model(_layout(x, cfg)).float() for x in batches(images, order, size)]
    return torch.cat(chunks).cpu()


def _timed(batches, waited: list):
    """The batches, adding the time spent waiting for each to waited[0]."""
    it = iter(batches)
    while True:
        started = time.perf_counter()
        try:
            xb = next(it)
        except StopIteration:
            return
        finally:
            waited[0] += time.perf_counter() - started
        yield xb


def _layout(x: torch.Tensor, cfg: TrainConfig) -> torch.Tensor:
    return x.contiguous(memory_format=torch.channels_last) if cfg.channels_last else x


def _precision(cfg: TrainConfig):
    """bfloat16 autocast when the rubric asks for mixed precision: no loss scaling needed."""
    return torch.autocast(device_type=cfg.device.split(":")[0], dtype=torch.bfloat16,
                          enabled=cfg.mixed_precision)


def _call(hook, *args, expect=None):
    name = getattr(hook, "__name__", "a hook")
    result = hook(*args)
    if expect is not None and not isinstance(result, expect):
        raise SubmissionError("bad_hook", f"{name} returned the wrong kind of object",
                              expected=expect.__module__ + "." + expect.__name__,
                              got=type(result).__name__)
    return result


def _loss(hook, locate):
    """build_loss's loss function; a class returned without its `()` (nn.CrossEntropyLoss)
    would take the logits as its constructor's arguments and fail in the first step with
    a message about tensors, so it is refused here, naming the line."""
    loss_fn = hook()
    if isinstance(loss_fn, type):
        at = locate(hook)
        raise SubmissionError(
            "bad_hook", _("build_loss returned the class, not an instance{at}: write "
                          "{cls}()").format(at=f" ({at})" if at else "",
                                            cls=_qualified(loss_fn)),
            expected=_("a loss function, e.g. nn.CrossEntropyLoss()"),
            got=_("the class {cls}").format(cls=_qualified(loss_fn)),
            hint=_("A class must be called to make the loss: `return {cls}()` (with its "
                   "arguments inside the brackets, e.g. label_smoothing=0.1).").format(
                       cls=_qualified(loss_fn)))
    return loss_fn


def _qualified(cls: type) -> str:
    """`nn.CrossEntropyLoss` for torch's own losses, else the class's name."""
    return f"nn.{cls.__name__}" if cls.__module__.startswith("torch.nn") else cls.__name__


def _required_argument(scheduler) -> str | None:
    """The name of the value a scheduler's step() needs (ReduceLROnPlateau's `metrics`,
    timm-style schedulers' `epoch`), or None where step() takes none."""
    try:
        params = list(inspect.signature(scheduler.step).parameters.values())
    except (AttributeError, TypeError, ValueError):
        return None
    if params and params[0].default is inspect.Parameter.empty and params[0].kind in (
            inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD):
        return params[0].name
    return None


def _scheduler_notes(scheduler, hooks, cfg: TrainConfig, steps_per_epoch: int, locate) -> str | None:
    """How the loop steps the student's scheduler, and a note where that is not what the
    student may think. Returns "accuracy" or "loss" for a scheduler stepped with a metric
    once an epoch after validation (ReduceLROnPlateau), "epoch" for one whose step() needs
    the epoch number, None for one stepped plainly (step())."""
    if scheduler is None:
        return None
    at = locate(hooks.build_scheduler)
    at = f" ({at})" if at else ""
    notes = hooks.notes
    name = type(scheduler).__name__
    needs = _required_argument(scheduler)
    if needs in ("epoch", "epochs"):  # step(epoch): the epochs done, once an epoch
        return "epoch"
    if needs is not None:
        mode = getattr(scheduler, "mode", None)
        metric = "loss" if mode == "min" else "accuracy"
        if mode == "min":
            notes.append(_("build_scheduler{at} returns {name}(mode='min'): the loop steps it once an "
                           "epoch with the validation loss (cross-entropy on the validation split). "
                           "To step it with the validation accuracy instead, build it with "
                           "mode='max'.").format(at=at, name=name))
        else:
            notes.append(_("build_scheduler{at} returns {name}: the loop steps it once an epoch with "
                           "the validation accuracy (a fraction), so mode='max' is the right "
                           "setting.").format(at=at, name=name))
        if cfg.scheduler_step == "batch":
            notes.append(_("SCHEDULER_STEP = \"batch\", but {name} needs a validation metric, "
                           "which exists once an epoch: it was stepped once an epoch.").format(name=name))
        return metric
    total = getattr(scheduler, "total_steps", None)
    if cfg.scheduler_step == "epoch" and isinstance(total, int) and total >= 2 * cfg.epochs \
            and total >= steps_per_epoch:
        notes.append(ngettext(
            "build_scheduler{at} returns {name} sized for {total} steps (epochs × "
            "steps_per_epoch), but with SCHEDULER_STEP = \"epoch\" the loop steps it only once, "
            "so its learning rate barely leaves its starting value. Set SCHEDULER_STEP = "
            "\"batch\" in improvements.py, or size it with total_steps=epochs.",
            "build_scheduler{at} returns {name} sized for {total} steps (epochs × "
            "steps_per_epoch), but with SCHEDULER_STEP = \"epoch\" the loop steps it only {epochs} "
            "times, so its learning rate barely leaves its starting value. Set SCHEDULER_STEP = "
            "\"batch\" in improvements.py, or size it with total_steps=epochs.",
            cfg.epochs).format(at=at, name=name, total=f"{total:,}", epochs=cfg.epochs))
    return None


def _check_finite(value: float, epoch: int, step: int):
    if not math.isfinite(value):
        raise SubmissionError(
            "non_finite_loss", _("the training loss became {value} at epoch {epoch}, step "
                                 "{step}").format(value=value, epoch=epoch, step=step),
            hint=_("Usually a learning rate too high for the optimizer; try a lower lr, "
                   "GRAD_CLIP_NORM = 1.0, or BatchNorm. A custom loss may also divide by zero or "
                   "take the log of 0."))
