"""The child process: `python -m grader.sandbox.worker JOB_DIR`.

It reads JOB_DIR/request.json (a grader.sandbox.protocol.JobRequest), imports the
submission's hooks (untrusted code runs only here), inspects the model, trains it and
returns test-set logits in JOB_DIR/result.pt.
It never sees test labels: the parent holds them and computes every accuracy it reports.
Progress goes to JOB_DIR/events.jsonl; whatever the student prints goes to stdout.
"""
from __future__ import annotations

import json
import random
import sys
import time
from pathlib import Path

from grader.failures import HINTS, SubmissionError, failure_dict, student_traceback


def main(job_dir: str) -> int:
    from grader.sandbox.protocol import JobRequest
    job = Path(job_dir)
    request = JobRequest.read(job)
    events = open(job / "events.jsonl", "a", buffering=1)
    state: dict = {"status": "failed", "failure": None, "timings": {}}

    def emit(event: dict):
        events.write(json.dumps(event) + "\n")

    try:
        _warm_up(request)
        emit({"event": "ready"})  # the parent starts the submission's clock here
        (run_predict if request.mode == "predict" else run)(request, state, emit)
        state["status"] = "ok"
    except BaseException as e:  # noqa: BLE001 - everything becomes a result, nothing escapes
        state["failure"] = _as_failure(e, request)
    finally:
        _save(state, job / "result.pt")
        events.close()
    return 0


def _warm_up(request) -> None:
    """The grader's own start-up: imports (torch and torchvision take 5 s or more on a
    busy CPU) and the device. Done before any student code so that it is not charged to
    the submission's time limit."""
    import torch
    import torchvision  # noqa: F401 - the template's transforms need it; pay for it here

    import grader.inspection.facts  # noqa: F401
    import grader.training.loop  # noqa: F401
    if request.device.startswith("cuda"):
        torch.zeros(1, device=request.device)  # the CUDA context


def run(request, state: dict, emit) -> None:
    import numpy as np
    import torch

    from grader.sandbox.hooks import CONSTANTS, load_hooks
    from grader.inspection.facts import inspect_model
    from grader.training.loop import Images, TrainConfig, predict, train

    torch.set_num_threads(request.threads)
    if request.device.startswith("cuda"):  # rlimits break CUDA; cap its allocator instead
        torch.cuda.set_per_process_memory_fraction(request.budget["gpu_memory_fraction"])
    info = _info(request)
    t0 = time.perf_counter()
    emit({"event": "phase", "phase": "import"})
    hooks = load_hooks(Path(request.submission), Path(request.reference),
                       model_hook=request.model_hook)
    state.update(customised=hooks.customised, notes=hooks.notes)
    state["requested"] = {k: hooks.values[k] for k in CONSTANTS}
    budget = request.budget
    epochs = request.epochs_override or min(hooks.EPOCHS, budget["max_epochs"])
    batch_size = min(hooks.BATCH_SIZE, budget["max_batch_size"])
    state["effective"] = {"epochs": epochs, "batch_size": batch_size}
    state["timings"]["import_s"] = time.perf_counter() - t0
    _share(state, emit, "customised", "notes", "requested", "effective")

    seed = request.seed
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    emit({"event": "phase", "phase": "inspect"})
    model = _hook_call("build_model", hooks.build_model, info)
    if not isinstance(model, torch.nn.Module):
        raise SubmissionError("bad_hook", "build_model(info) must return a torch.nn.Module",
                              expected="torch.nn.Module", got=type(model).__name__)
    input_shape = (info.in_channels, *info.image_size)
    facts = inspect_model(model, input_shape, request.modules)
    error = facts["error"] and facts["error"].pop("exception")
    state["inspection"] = facts
    _share(state, emit, "inspection")  # before raising: the layers that ran earn their checks
    if error:
        _raise_if_limit(error)
        where = f" in `{facts['error']['module']}`" if facts["error"]["module"] else ""
        raise SubmissionError("forward_error", f"model(x) raised {type(error).__name__}{where}: "
                              f"{error}",
                              expected=f"a batch [N, {', '.join(map(str, input_shape))}] -> "
                                       f"[N, {info.num_classes}]",
                              hint=_forward_hint(error), trace=_trace(error, request))
    if facts["output_shape"] != [2, info.num_classes]:
        raise SubmissionError("output_shape", "the model's output for 2 images has the wrong shape",
                              expected=[2, info.num_classes], got=facts["output_shape"],
                              hint="The last layer must be Linear(..., num_classes) and forward "
                                   "must return it (no softmax, no extra dimensions).")
    if facts["parameters"] > budget["max_parameters"]:
        raise SubmissionError("too_many_parameters", "the model is over the parameter budget, "
                              "so it was not trained",
                              expected=f"at most {budget['max_parameters']:,}",
                              got=f"{facts['parameters']:,}",
                              hint="The biggest layer is usually the first Linear after Flatten; "
                                   "pool more (or use AdaptiveAvgPool2d) before it.")
    state["timings"]["inspect_s"] = time.perf_counter() - t0 - state["timings"]["import_s"]

    device = request.device
    model.to(device)
    arrays = {k: np.load(request.inputs[k], mmap_mode="r") for k in ("train_x", "train_y", "test_x")}
    train_idx, val_idx = np.load(request.inputs["train_idx"]), np.load(request.inputs["val_idx"])
    switches = request.training
    workers = switches["loader_workers"]
    if workers is None:  # the per-image path's workers prepare batches while the model trains
        workers = min(4, request.threads - 1)
    cfg = TrainConfig(epochs=epochs, batch_size=batch_size,
                      grad_clip_norm=hooks.GRAD_CLIP_NORM,
                      early_stopping_patience=hooks.EARLY_STOPPING_PATIENCE,
                      scheduler_step=hooks.SCHEDULER_STEP, seed=seed, device=device,
                      loader_workers=workers, channels_last=switches["channels_last"],
                      mixed_precision=switches["mixed_precision"])
    emit({"event": "phase", "phase": "train"})
    try:
        state["training"], test_batches = train(
            model, hooks, arrays["train_x"], torch.from_numpy(np.array(arrays["train_y"])),
            train_idx, val_idx, cfg, info, emit)
        emit({"event": "phase", "phase": "test"})
        t1 = time.perf_counter()
        state["test_logits"] = predict(model, Images(arrays["test_x"], device), test_batches, cfg)
        state["timings"]["predict_s"] = time.perf_counter() - t1
        if request.keep_weights:  # for the run's output folder and `grade predict`
            state["model_state"] = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    except SubmissionError:
        raise
    except Exception as e:
        _raise_if_limit(e)
        raise SubmissionError("training_error", f"{type(e).__name__} during training: {e}",
                              trace=_trace(e, request)) from None


def run_predict(request, state: dict, emit) -> None:
    """`grade predict`: rebuild a graded run's model from its hooks, load its weights and
    return logits for the given images, through the run's own test transform."""
    import numpy as np
    import torch

    from grader.sandbox.hooks import load_hooks
    from grader.training.loop import Batches, Images, TrainConfig, predict

    torch.set_num_threads(request.threads)
    info = _info(request)
    hooks = load_hooks(Path(request.submission), Path(request.reference),
                       model_hook=request.model_hook)
    torch.manual_seed(0)
    model = _hook_call("build_model", hooks.build_model, info)
    model.load_state_dict(torch.load(request.inputs["weights"], weights_only=True, map_location="cpu"))
    device = request.device
    model.to(device)
    cfg = TrainConfig(epochs=1, batch_size=1, grad_clip_norm=None, early_stopping_patience=None,
                      scheduler_step="epoch", seed=0, device=device, **request.training)
    batches = Batches(hooks.build_test_transform(info), "test", 2, device)
    with torch.no_grad():
        state["logits"] = predict(model, Images(np.load(request.inputs["images"]), device), batches, cfg)


def _info(request):
    from grader.load.datasets import DatasetInfo
    return DatasetInfo(**{k: tuple(v) if isinstance(v, list) else v
                          for k, v in request.info.items()})


def _share(state: dict, emit, *keys) -> None:
    """Send facts to the parent as soon as they are known, so a run killed later (time
    limit, out of memory) still earns the checks those facts pass."""
    emit({"event": "state", "data": {k: state[k] for k in keys}})


def _hook_call(name, fn, *args):
    try:
        return fn(*args)
    except Exception as e:
        _raise_if_limit(e)
        raise SubmissionError("hook_error", f"{name} raised {type(e).__name__}: {e}",
                              trace=_trace(e, None)) from None


def _raise_if_limit(e: BaseException) -> None:
    """Turn hitting a resource limit into its own failure. torch reports a failed
    allocation as a RuntimeError (CPU, under the memory limit) or torch.OutOfMemoryError
    (CUDA), Python as MemoryError; a write past the output limit raises EFBIG (Python
    ignores SIGXFSZ)."""
    import errno

    import torch
    if isinstance(e, OSError) and e.errno == errno.EFBIG:
        raise SubmissionError("output_limit", "the submission wrote more output than the "
                              "limit allows", hint=HINTS["output_limit"]) from None
    if isinstance(e, (MemoryError, torch.OutOfMemoryError)) or "can't allocate memory" in str(e):
        raise SubmissionError("out_of_memory", f"ran out of memory: {str(e)[:200]}",
                              hint=HINTS["out_of_memory"]) from None


def _forward_hint(e: Exception) -> str:
    text = str(e)
    if "mat1 and mat2 shapes cannot be multiplied" in text:
        return ("The first Linear layer's in_features does not match the flattened size of the "
                "feature map; print the shape before Flatten (the model summary shows it).")
    if "channels" in text and "expected input" in text:
        return "A Conv2d's in_channels does not match the channels of its input."
    return "Run the model on a dummy batch yourself: model(torch.randn(2, C, H, W))."


def _trace(e: BaseException, request) -> str:
    roots = [Path(request.submission)] if request else []
    roots = [r if r.is_dir() else r.parent for r in roots]
    return student_traceback(e, roots or [Path.cwd()])


def _as_failure(e: BaseException, request) -> dict:
    if isinstance(e, SubmissionError):
        return e.to_dict()
    if isinstance(e, MemoryError):
        return failure_dict("out_of_memory", "the process ran out of memory",
                            hint=HINTS["out_of_memory"])
    if isinstance(e, (SystemExit, KeyboardInterrupt)):
        return failure_dict("training_error", f"the submission called exit ({type(e).__name__})",
                            hint=HINTS["exit"])
    return failure_dict("grader_error", f"{type(e).__name__}: {e}", trace=_trace(e, request))


def _save(state: dict, path: Path) -> None:
    import io

    import torch

    from grader.files import write_atomic
    buf = io.BytesIO()
    torch.save(state, buf)
    write_atomic(path, buf.getvalue())


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
