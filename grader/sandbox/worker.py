"""The child process: `python -m grader.sandbox.worker JOB_DIR`.

It reads JOB_DIR/request.json (a grader.sandbox.protocol.JobRequest), imports the
submission's hooks (untrusted code runs only here), inspects the model, trains it and
returns test-set logits in JOB_DIR/result.pt.
It never sees test labels: the parent holds them and computes every accuracy it reports.
Progress goes to JOB_DIR/events.jsonl; whatever the student prints goes to stdout.
"""
from __future__ import annotations

import dataclasses
import json
import os
import random
import sys
import time
from pathlib import Path

from grader.failures import EXITS, SubmissionError
from grader.i18n import ENV, _, use
from grader.sandbox import explain


def main(job_dir: str) -> int:
    from grader.sandbox.protocol import ChildResult, JobRequest
    job = Path(job_dir)
    use(os.environ.get(ENV))  # the parent's language, for the messages built here
    request = JobRequest.read(job)
    events = open(job / "events.jsonl", "a", buffering=1)
    state = ChildResult()

    def emit(event: dict):
        events.write(json.dumps(event) + "\n")

    try:
        if request.layers:  # before anything else is imported, student code above all
            from grader.sandbox.confine import enter
            enter(request.layers, request.rules)
        _warm_up(request)
        emit({"event": "ready"})  # the parent starts the submission's clock here
        {"predict": run_predict, "verify": run_verify}.get(request.mode, run)(request, state, emit)
        state.status = "ok"
    except BaseException as e:  # noqa: BLE001 - everything becomes a result, nothing escapes
        state.failure = explain.as_failure(e, request)
    finally:
        _save(state, job / "result.pt")
        events.close()
        # The result is the child's last act: no atexit handler, finaliser or interpreter
        # teardown runs after it, so nothing a submission registered can rewrite it.
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(0)


def _warm_up(request) -> None:
    """The grader's own start-up: imports and the device. Done before any student code so
    that it is not charged to the submission's time limit."""
    preload()
    if request.device.startswith("cuda"):
        import torch
        torch.zeros(1, device=request.device)  # the CUDA context


def preload() -> None:
    """What the worker imports before it touches a submission (torch and torchvision take
    2-10 s): here in every exec'd child, once in the fork server for all its forks."""
    import torch  # noqa: F401
    import torchvision  # noqa: F401 - the template's transforms need it; pay for it here

    import grader.inspection.facts  # noqa: F401
    import grader.sandbox.hooks  # noqa: F401
    import grader.training.loop  # noqa: F401


def run(request, state, emit) -> None:
    import numpy as np
    import torch

    from grader.inspection.facts import inspect_model
    from grader.inspection.modelfacts import ModelFacts
    from grader.training.batches import Images, normalisation_note
    from grader.training.loop import LEDGER, predict, train, watch_optimizers

    torch.set_num_threads(request.threads)
    if request.device.startswith("cuda"):  # rlimits break CUDA; cap its allocator instead
        torch.cuda.set_per_process_memory_fraction(request.budget.gpu_memory_fraction)
    info = request.info
    watch_optimizers()  # before the submission is imported: every optimizer step it takes counts
    t0 = time.perf_counter()
    hooks = _import_hooks(request, state, emit)
    state.timings["import_s"] = time.perf_counter() - t0
    budget = request.budget

    seed = request.seed
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    emit({"event": "phase", "phase": "inspect"})
    model = _hook_call("build_model", hooks.build_model, request, info)
    if not isinstance(model, torch.nn.Module):
        raise SubmissionError("bad_hook", _("build_model(info) must return a torch.nn.Module"),
                              expected="torch.nn.Module", got=type(model).__name__)
    model = _uncompiled(model, hooks, request)
    input_shape = (info.in_channels, *info.image_size)
    sent, error = inspect_model(model, input_shape, request.modules)
    state.inspection, facts = sent, ModelFacts.load(sent)  # sent as it is, read typed
    if facts.scripted:
        hooks.notes.append(_("build_model returned a scripted model (torch.jit.script): it is "
                             "graded as it is, but the model summary lists its layers without "
                             "their shapes, which a scripted model does not let the grader "
                             "observe."))
        _share(state, emit, "notes")
    _share(state, emit, "inspection")  # before raising: the layers that ran earn their checks
    arrays = {k: np.load(request.inputs[k], mmap_mode="r")
              for k in ("train_x", "train_y", "test_x", "public_x") if k in request.inputs}
    train_idx, val_idx = np.load(request.inputs["train_idx"]), np.load(request.inputs["val_idx"])
    # Before the model's own failures: a pipeline of the wrong size is what breaks a model
    # built for that size, and the student should hear about the cause.
    transforms = _transforms(hooks, info, arrays["train_x"][np.sort(train_idx[:2])], request)
    note = normalisation_note(hooks.customised, transforms, info)
    if note:
        hooks.notes.append(note)
        _share(state, emit, "notes")
    if error:
        explain.raise_if_limit(error)
        raise explain.forward_failure(error, facts, info, request)
    if facts.output_shape != [2, info.num_classes]:
        raise explain.output_failure(facts, info)
    if facts.parameters > budget.max_parameters:
        raise explain.over_budget(facts, budget.max_parameters)
    state.timings["inspect_s"] = time.perf_counter() - t0 - state.timings["import_s"]

    device = request.device
    model.to(device)
    cfg = _train_config(request, hooks, state.effective)
    emit({"event": "phase", "phase": "train"})
    try:
        state.training, test_batches = train(
            model, hooks, arrays["train_x"], torch.from_numpy(np.array(arrays["train_y"])),
            train_idx, val_idx, cfg, info, emit, transforms=transforms,
            locate=lambda fn: _hook_line(fn, request))
        state.ledger = dataclasses.asdict(LEDGER)  # for the parent's budget check (inspection.audit)
        emit({"event": "phase", "phase": "test"})
        t1 = time.perf_counter()
        state.test_logits = predict(model, Images(arrays["test_x"], device), test_batches, cfg)
        if "public_x" in arrays:  # untouched public images: the memorisation check
            state.public_logits = predict(model, Images(arrays["public_x"], device),
                                             test_batches, cfg)
        state.timings["predict_s"] = time.perf_counter() - t1
        if request.keep_weights:  # for the run's output folder and `grade predict`
            state.model_state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    except (SubmissionError, *EXITS):
        raise
    except BaseException as e:  # noqa: BLE001 - a BaseException of the student's own is theirs
        explain.raise_if_limit(e)
        raise explain.failure(e, request, during="training") from None


def _import_hooks(request, state, emit):
    """The submission's hooks (the baseline's where it defines none), and what they ask
    for within the budget, shared with the parent at once."""
    from grader.sandbox.hooks import CONSTANTS, load_hooks
    emit({"event": "phase", "phase": "import"})
    hooks = load_hooks(Path(request.submission), Path(request.reference),
                       model_hook=request.model_hook)
    state.customised, state.notes = hooks.customised, hooks.notes
    state.requested = {k: hooks.values[k] for k in CONSTANTS}
    budget = request.budget
    epochs = request.epochs_override or min(hooks.EPOCHS, budget.max_epochs)
    batch_size = min(hooks.BATCH_SIZE, budget.max_batch_size)
    state.effective = {"epochs": epochs, "batch_size": batch_size}
    _share(state, emit, "customised", "notes", "requested", "effective")
    return hooks


def _train_config(request, hooks, effective: dict):
    """The loop's settings: the budget's epochs and batch size, the hooks' knobs, the
    rubric's training switches."""
    from grader.training.loop import TrainConfig
    switches = request.training
    workers = switches.loader_workers
    if workers is None:  # the per-image path's workers prepare batches while the model trains
        workers = min(4, request.threads - 1)
    return TrainConfig(epochs=effective["epochs"], batch_size=effective["batch_size"],
                       grad_clip_norm=hooks.GRAD_CLIP_NORM,
                       early_stopping_patience=hooks.EARLY_STOPPING_PATIENCE,
                       scheduler_step=hooks.SCHEDULER_STEP, seed=request.seed,
                       device=request.device, loader_workers=workers,
                       channels_last=switches.channels_last,
                       mixed_precision=switches.mixed_precision)


def run_predict(request, state, emit) -> None:
    """`grade predict`: rebuild a graded run's model from its hooks, load its weights and
    return logits for the given images, through the run's own test transform."""
    import numpy as np
    import torch

    from grader.sandbox.hooks import load_hooks
    from grader.training.batches import Batches, Images
    from grader.training.loop import TrainConfig, predict

    torch.set_num_threads(request.threads)
    info = request.info
    hooks = load_hooks(Path(request.submission), Path(request.reference),
                       model_hook=request.model_hook)
    torch.manual_seed(0)
    model = _hook_call("build_model", hooks.build_model, request, info)
    model = _uncompiled(model, hooks, request)
    model.load_state_dict(torch.load(request.inputs["weights"], weights_only=True, map_location="cpu"))
    device = request.device
    model.to(device)
    cfg = TrainConfig(epochs=1, batch_size=1, grad_clip_norm=None, early_stopping_patience=None,
                      scheduler_step="epoch", seed=0, device=device,
                      **dataclasses.asdict(request.training))
    batches = Batches(_hook_call("build_test_transform", hooks.build_test_transform, request, info),
                      "test", 2, device)
    with torch.no_grad():
        state.logits = predict(model, Images(np.load(request.inputs["images"]), device), batches, cfg)


def run_verify(request, state, emit) -> None:
    """A training run measured again, in a fresh child of its own (grader.grading.runs.verify):
    build_model at the run's seed, the weights the training child saved loaded into it
    strictly, then the grader's own inspection (parameter count, output shape) and the
    test set predicted through the run's test transform, as the training child did. No
    optimizer, loss, scheduler or training transform is built: the submission's code
    runs here only where the architecture and its forward pass need it."""
    import numpy as np
    import torch

    from grader.inspection.facts import inspect_model
    from grader.sandbox.hooks import load_hooks
    from grader.training.batches import Batches, Images
    from grader.training.loop import TrainConfig, predict

    torch.set_num_threads(request.threads)
    if request.device.startswith("cuda"):
        torch.cuda.set_per_process_memory_fraction(request.budget.gpu_memory_fraction)
    info = request.info
    hooks = load_hooks(Path(request.submission), Path(request.reference),
                       model_hook=request.model_hook)
    random.seed(request.seed)  # the training child's order: a seeded architecture is rebuilt alike
    np.random.seed(request.seed)
    torch.manual_seed(request.seed)
    model = _hook_call("build_model", hooks.build_model, request, info)
    if not isinstance(model, torch.nn.Module):
        state.weights_error = f"build_model returned {type(model).__name__}"
        return
    model = _uncompiled(model, hooks, request)
    state.init_digest = _init_digest(model)  # before the trained weights replace them
    weights = torch.load(request.inputs["weights"], weights_only=True, map_location="cpu")
    try:
        model.load_state_dict(weights, strict=True)
    except EXITS:
        raise
    except BaseException as e:  # noqa: BLE001 - the parent reports it as a mismatch
        state.weights_error = f"{type(e).__name__}: {str(e)[:500]}"
        return
    facts, error = inspect_model(model, (info.in_channels, *info.image_size), [])
    state.parameters = facts["parameters"]
    state.output_shape = facts["output_shape"]
    state.parameter_shapes = {name: list(p.shape) for name, p in model.named_parameters()
                                 if p.requires_grad}
    if error:
        state.forward_error = f"{type(error).__name__}: {str(error)[:500]}"
        return
    device = request.device
    model.to(device)
    switches = request.training
    workers = switches.loader_workers
    if workers is None:  # as the training child chose them
        workers = min(4, request.threads - 1)
    cfg = TrainConfig(epochs=1, batch_size=1, grad_clip_norm=None, early_stopping_patience=None,
                      scheduler_step="epoch", seed=request.seed, device=device,
                      loader_workers=workers, channels_last=switches.channels_last,
                      mixed_precision=switches.mixed_precision)
    if cfg.channels_last:  # the layout the trained model predicted in
        model.to(memory_format=torch.channels_last)
    transform = _hook_call("build_test_transform", hooks.build_test_transform, request, info)
    batches = Batches(transform, "test", cfg.seed + 2, device, cfg.loader_workers)  # the loop's
    try:
        state.test_logits = predict(model, Images(np.load(request.inputs["test_x"], mmap_mode="r"),
                                                     device), batches, cfg)
        if "public_x" in request.inputs:
            state.public_logits = predict(
                model, Images(np.load(request.inputs["public_x"], mmap_mode="r"), device), batches, cfg)
    except (SubmissionError, *EXITS):
        raise
    except BaseException as e:  # noqa: BLE001 - a BaseException of the student's own is theirs
        explain.raise_if_limit(e)
        raise explain.failure(e, request, during=_("predicting the test set")) from None


def _uncompiled(model, hooks, request):
    """The model torch.compile wrapped, with a note: compilation changes how fast the model
    runs, not what it computes, and on a CPU inductor spends a minute or more running a C++
    compiler (writing precompiled headers of hundreds of megabytes) before the first
    batch, which the grader's time and file-size limits are not sized for. Submodules
    compiled one by one, and a model compiled in place (model.compile()), are unwrapped
    the same way."""
    def unwrap(m):
        return m._orig_mod if type(m).__name__ == "OptimizedModule" and hasattr(m, "_orig_mod") else m

    found = unwrap(model) is not model
    model = unwrap(model)
    for parent in list(model.modules()):
        if getattr(parent, "_compiled_call_impl", None) is not None:  # model.compile(), in place
            parent._compiled_call_impl = None
            found = True
        for name, child in list(parent.named_children()):
            if unwrap(child) is not child:
                setattr(parent, name, unwrap(child))
                found = True
    from torch.optim.swa_utils import AveragedModel
    if isinstance(model, AveragedModel) and request.mode != "predict":
        hooks.notes.append(_("build_model{at} returns an AveragedModel: the loop trains the model "
                             "inside it but never calls update_parameters(), so nothing is "
                             "averaged and the grade is the last epoch's weights (early stopping's "
                             "best). The lab's loop has no hook for weight averaging: return the "
                             "model itself.").format(
            at=_hook_line(hooks.values["build_model"], request, " ({})")))
    if found and request.mode != "predict":
        hooks.notes.append(_("build_model{at} returns a model wrapped by torch.compile: the grader "
                             "trains the model itself, uncompiled (compiling changes the speed, "
                             "not the results, and on the grader's CPU it would spend its time "
                             "budget running a C++ compiler). Return the model without "
                             "torch.compile to silence this note.").format(
            at=_hook_line(hooks.values["build_model"], request, " ({})")))
    return model


def _init_digest(model) -> str | None:
    """A digest of the model's state (names, dtypes, shapes, values) as build_model returned
    it at the run's seed: equal for two models that start from the same weights."""
    import hashlib

    from grader.training.loop import hash_tensor
    h = hashlib.sha256()
    try:
        for name, t in sorted(model.state_dict().items()):
            hash_tensor(h, t, prefix=f"{name}\0")
    except Exception:  # noqa: BLE001 - an unusual tensor: the run is simply not paired
        return None
    return h.hexdigest()[:32]


def _hook_line(fn, request, form: str = "{}", node=None) -> str:
    """`improvements.py, line 12`: where hook `fn` returns (its last `return`, else its
    `def`) in the student's own file or notebook cell, in `form`; "" where unknown."""
    import ast
    import inspect
    import textwrap

    from grader.load.notebook import SourceMap
    code = getattr(fn, "__code__", None)
    if code is None:
        return ""
    line = code.co_firstlineno
    try:
        tree = ast.parse(textwrap.dedent(inspect.getsource(fn)))
        returns = [n.lineno for n in ast.walk(tree) if isinstance(n, node or ast.Return)]
        if returns:
            line += max(returns) - 1
    except (OSError, TypeError, SyntaxError):
        pass
    where = SourceMap.of(Path(request.submission)).locate(code.co_filename, line)
    return form.format(where) if where else ""


def _share(state, emit, *keys) -> None:
    """Send facts of `state` (a ChildResult) to the parent as soon as they are known, so a
    run killed later (time limit, out of memory) still earns the checks those facts pass."""
    emit({"event": "state", "data": {k: getattr(state, k) for k in keys}})


def _hook_call(name, fn, request, *args):
    try:
        return fn(*args)
    except EXITS:
        raise
    except BaseException as e:  # noqa: BLE001 - a BaseException of the student's own is theirs
        explain.raise_if_limit(e)
        raise explain.failure(e, request, hook=name) from None


def _transforms(hooks, info, sample, request) -> dict:
    """Build both transforms (a hook that raises is named) and run each on two training
    images: an output of the wrong size fails here, naming its hook, rather than deep in
    the model as a shape error during training."""
    from grader.training.batches import check_transform
    built = {}
    for which in ("train", "test"):
        name = f"build_{which}_transform"
        built[which] = _hook_call(name, hooks.values[name], request, info)
        try:
            check_transform(built[which], which, sample, info,
                            at=_hook_line(hooks.values[name], request))
        except (SubmissionError, *EXITS):
            raise
        except BaseException as e:  # noqa: BLE001 - a BaseException of the student's own is theirs
            explain.raise_if_limit(e)
            raise explain.failure(e, request, hook=name, during=_("transforming a training image")) from None
    return built


def _save(state, path: Path) -> None:
    import io

    import torch

    from grader.files import write_atomic
    buf = io.BytesIO()
    torch.save(state.as_dict(), buf)
    write_atomic(path, buf.getvalue())


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
