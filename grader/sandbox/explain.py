"""Why a submission failed, in the student's terms: the child turns an exception into a
SubmissionError that names the hook and the student's own line, the likely cause and what
to do (a Linear sized for another image, a notebook's top-level name the grader did not
keep, a device the grader does not run on, a model over the parameter budget, a resource
limit reached). Runs in the child (grader.sandbox.worker); messages go through grader.i18n.
"""
from __future__ import annotations

from pathlib import Path

from grader.failures import HINTS, SubmissionError, failure_dict, own_frames, student_traceback
from grader.i18n import _, ngettext
from grader.inspection.modelfacts import ModelFacts
from grader.load.template import FUNCTIONS


def failure(e: BaseException, request, hook: str | None = None, during: str | None = None):
    """A student's exception as a failure naming the hook it came from (or the training
    step) and the student's own line, with the likely cause where one is known."""
    from grader.load.notebook import SourceMap
    source = SourceMap.of(Path(request.submission))
    frames = own_frames(e, source.roots())
    hook = hook or next((f.name for f in frames if f.name in FUNCTIONS), None)
    where = next((source.locate(f.filename, f.lineno) for f in reversed(frames)), None)
    at = f" ({where})" if where else ""
    cause, hint = _cause(e, source, hook, request)
    if hook:
        what = _("{hook} raised {error}{at}").format(hook=hook, error=type(e).__name__, at=at) + (
            " " + _("while {during}").format(during=during) if during and during != "training" else "")
        return SubmissionError("hook_error", f"{what}: {cause or e}", hint=hint,
                               trace=source.trace(e))
    return SubmissionError("training_error", _("{error} during {during}{at}").format(
        error=type(e).__name__, during=during or _("training"), at=at) + f": {cause or e}",
        hint=hint, trace=source.trace(e))
def _cause(e: BaseException, source, hook: str | None, request) -> tuple[str | None, str | None]:
    """(what went wrong in the student's terms, or None for the error's own words; hint)."""
    import urllib.error
    text = str(e)
    if isinstance(e, NameError) and getattr(e, "name", None) in source.data:
        name, at = e.name, source.dropped[e.name]
        return (_("it uses `{name}`, which {at} sets to a data set or loader at the top level of "
                  "the notebook; the grader loads the data itself and never runs that line").format(
                    name=name, at=at),
                _("A hook gets `info`, not the data: use info.num_classes, info.classes, "
                  "info.in_channels, info.image_size, info.mean and info.std instead of `{name}`, "
                  "and leave the data set and its DataLoader outside the hooks (grading has no "
                  "network, and the grader feeds the batches).").format(name=name))
    if isinstance(e, NameError) and getattr(e, "name", None) in source.dropped:
        name, at = e.name, source.dropped[e.name]
        if name in ("device", "dev", "DEVICE"):
            return (_("it uses `{name}`, which {at} sets at the top level of the notebook; the "
                      "grader keeps only imports, function and class definitions and constant "
                      "assignments from a notebook, so `{name}` does not exist when {hook} "
                      "runs").format(name=name, at=at, hook=hook or _("your code")),
                    _("The grader chooses the device and moves the model there: inside forward "
                      "use the input's device (torch.zeros(..., device=x.device), t.to(x.device)), "
                      "and leave .to({name}) out of the hooks.").format(name=name))
        return (_("it uses `{name}`, which {at} sets at the top level of the notebook; the grader "
                  "keeps only imports, function and class definitions and constant assignments "
                  "from a notebook, so `{name}` does not exist when {hook} runs").format(
                    name=name, at=at, hook=hook or _("your code")),
                _("Create `{name}` inside {hook} (move its line into the function's body), or "
                  "make it a plain constant (a number, string or tuple).").format(
                    name=name, hook=hook or _("the function that uses it")))
    if isinstance(e, (urllib.error.URLError, ConnectionError, TimeoutError)) or \
            "Name or service not known" in text or "Temporary failure in name resolution" in text:
        return (_("a download failed, and grading has no network ({error})").format(
            error=f"{type(e).__name__}: {e}"), HINTS["network"])
    if _is_device_error(text):
        return f"{_device_trouble(request.device)} ({text.splitlines()[0]})", HINTS["device"]
    if isinstance(e, ModuleNotFoundError):
        return None, _("Only the standard library, torch, torchvision, numpy and PIL are installed "
                       "where it is graded.")
    if "view size is not compatible" in text and request.training.channels_last:
        return (_("{error} (this rubric trains in the channels_last memory layout, where .view() "
                  "cannot flatten a convolution's output, although it works in a notebook)").format(
                    error=text.splitlines()[0]),
                _("Flatten with torch.flatten(x, 1), x.reshape(x.size(0), -1) or nn.Flatten(): "
                  "they work in every memory layout."))
    return None, None
def _is_device_error(text: str) -> bool:
    return any(s in text for s in ("NVIDIA driver", "not compiled with CUDA", "No CUDA GPUs",
                                   "CUDA driver", "CUDA is not available",
                                   "Expected all tensors to be on the same device")) or (
        "should be the same" in text and "cuda" in text.lower())  # conv: input vs weight type
def _device_trouble(device: str) -> str:
    if device.startswith("cuda"):
        return _("it puts tensors on another device than the model's: the grader runs the model "
                 "on {device}").format(device=device)
    return _("it asks for CUDA, but the grader runs the model on the CPU")
def raise_if_limit(e: BaseException) -> None:
    """Turn hitting a resource limit into its own failure. torch reports a failed
    allocation as a RuntimeError (CPU, under the memory limit) or torch.OutOfMemoryError
    (CUDA), Python as MemoryError; a write past the output limit raises EFBIG (Python
    ignores SIGXFSZ)."""
    import errno

    import torch
    if isinstance(e, OSError) and e.errno == errno.EFBIG:
        raise SubmissionError("output_limit", _("the submission wrote more output than the "
                                                "limit allows"), hint=HINTS["output_limit"]) from None
    if isinstance(e, (MemoryError, torch.OutOfMemoryError)) or "can't allocate memory" in str(e):
        raise SubmissionError("out_of_memory", _("ran out of memory: {error}").format(error=str(e)[:200]),
                              hint=HINTS["out_of_memory"]) from None
def forward_failure(error: Exception, facts: ModelFacts, info, request) -> SubmissionError:
    module = facts.error.module
    text = str(error)
    shape = f"[N, {info.in_channels}, {', '.join(map(str, info.image_size))}]"
    if _is_device_error(text):
        why = _device_trouble(request.device).removeprefix("it ")
        error_text = f"{type(error).__name__}: {text.splitlines()[0]}"
        message = (_("model(x) in `{module}` {why} ({error})") if module else
                   _("model(x) {why} ({error})")).format(module=module, why=why, error=error_text)
    elif module:
        message = _("model(x) raised {error} in `{module}` on a batch of 2 images: {text}").format(
            error=type(error).__name__, module=module, text=error)
    else:
        message = _("model(x) raised {error} on a batch of 2 images: {text}").format(
            error=type(error).__name__, text=error)
    hint = HINTS["device"] if _is_device_error(text) else _forward_hint(error, facts, info)
    if isinstance(error, NameError):  # a notebook's top-level name that the grader did not keep
        from grader.load.notebook import SourceMap
        source = SourceMap.of(Path(request.submission))
        cause, name_hint = _cause(error, source, "forward", request)
        if cause:
            message, hint = message.removesuffix(text) + cause, name_hint
    if facts.uninitialized:  # translated here: to_dict cannot look up the joined text
        hint = _(hint) + " " + _("(Lazy layers not reached before the error, so not counted yet: "
                        "{layers}.)").format(layers=", ".join(facts.uninitialized))
    from grader.load.notebook import SourceMap
    return SubmissionError("forward_error", message,
                           expected=_("a batch {shape} -> [N, {classes}]").format(
                               shape=shape, classes=info.num_classes), hint=hint,
                           trace=SourceMap.of(Path(request.submission)).trace(error))
def _forward_hint(e: Exception, facts: ModelFacts, info) -> str:
    import re
    text = str(e)
    matmul = re.search(r"mat1 and mat2 shapes cannot be multiplied \((\d+)x(\d+) and (\d+)x(\d+)\)", text)
    if matmul:
        rows, got, want, out = map(int, matmul.groups())
        if rows != 2:
            return _("The inspection batch holds 2 images, but {rows} rows of {got} numbers "
                     "reached the Linear layer: a view/reshape with -1 in the first place mixes "
                     "images together; flatten with x.flatten(1) and size the Linear for what "
                     "one image gives.").format(rows=rows, got=f"{got:,}")
        return _("The inspection batch holds 2 images; each reaches the Linear layer as {got} "
                 "features{shape}, but the layer was built with in_features={want}: use "
                 "nn.Linear({n}, {out}), or nn.AdaptiveAvgPool2d before Flatten so the size no "
                 "longer depends on the image size.").format(
            got=f"{got:,}", shape=_per_image_shape(got, facts), want=f"{want:,}", n=got, out=out)
    reshape = re.search(r"shape '\[(.*?)\]' is invalid for input of size (\d+)", text)
    if reshape:
        total = int(reshape.group(2))
        per = total // 2
        return _("The inspection batch holds 2 images, so the {total} numbers that reached "
                 "view/reshape are {per} per image{shape}. Flatten with x.flatten(1) (or "
                 "x.view(x.size(0), -1)) and size the next Linear for {per}.").format(
            total=f"{total:,}", per=f"{per:,}", shape=_per_image_shape(per, facts))
    if "channels" in text and "expected input" in text:
        conv = next((layer for layer in facts.layers if layer.type == "Conv2d"), None)
        c_in = conv and conv.settings.get("in_channels")
        if conv and c_in != info.in_channels:
            return ngettext(
                "`{name}` is Conv2d({c_in}, ...), but these images have {n} channel: build the "
                "first Conv2d with info.in_channels, e.g. nn.Conv2d(info.in_channels, {out}, ...).",
                "`{name}` is Conv2d({c_in}, ...), but these images have {n} channels: build the "
                "first Conv2d with info.in_channels, e.g. nn.Conv2d(info.in_channels, {out}, ...).",
                info.in_channels).format(name=conv.name, c_in=c_in, n=info.in_channels,
                                         out=conv.settings.get("out_channels"))
        return _("A Conv2d's in_channels does not match the channels of its input (the model "
                 "summary shows what reached it).")
    return _("Run the model on a dummy batch yourself: model(torch.randn(2, C, H, W)).")
def _per_image_shape(per: int, facts: ModelFacts) -> str:
    """` (= 64×14×14)` when the last feature map's channel count explains the number, and
    a word on functional layers, which the model summary does not list."""
    maps = [layer.output_shape for layer in facts.layers
            if layer.output_shape and len(layer.output_shape) == 4]
    if not maps:
        return ""
    c, h, w = maps[-1][1:]
    if c * h * w == per:
        return " " + _("(= {c}×{h}×{w}, the last feature map)").format(c=c, h=h, w=w)
    side = round((per / c) ** 0.5) if per % c == 0 else 0
    if side and c * side * side == per:
        return " " + _("(= {c}×{s}×{s}; the model summary's last map is {c}×{h}×{w}: calls such "
                       "as F.max_pool2d in forward() change the size without appearing "
                       "there)").format(c=c, s=side, h=h, w=w)
    return ""
def output_failure(facts: ModelFacts, info) -> SubmissionError:
    got, want = facts.output_shape, [2, info.num_classes]
    if got is None:
        hint = _("forward must return one tensor, the logits: `return logits`, not `return "
                 "logits, features` (torchvision's GoogLeNet and Inception return extra outputs "
                 "unless built with aux_logits=False).")
    elif got[0] != 2:
        hint = _("2 images went in and {rows} rows came out: a view/reshape with -1 in the "
                 "first place mixes images together; flatten with x.flatten(1) instead.").format(rows=got[0])
    elif len(got) > 2:
        hint = _("Flatten the feature map (x.flatten(1)) before the last Linear layer.")
    else:
        hint = _("The last layer must be Linear(..., {n}) (info.num_classes) and forward must "
                 "return it (no softmax, no extra dimensions).").format(n=info.num_classes)
    return SubmissionError("output_shape", _("wrong shape: for a batch of 2 images the model "
                                             "returned {got}, not logits of shape {want}").format(
                               got=facts.output or got, want=want),
                           expected=_("a tensor of shape {want}").format(want=want),
                           got=facts.output or got,
                           hint=hint)
def over_budget(facts: ModelFacts, cap: int) -> SubmissionError:
    n = facts.parameters
    biggest = max(facts.layers, key=lambda layer: layer.parameters, default=None)
    if not biggest or not biggest.parameters:
        return SubmissionError("too_many_parameters", _(
            "the model has {n} trainable parameters, over the budget of {cap}, so it was not "
            "trained").format(n=f"{n:,}", cap=f"{cap:,}"),
                               expected=_("at most {cap}").format(cap=f"{cap:,}"), got=f"{n:,}",
                               hint=_("Use fewer or narrower layers."))
    s, kind = biggest.settings, biggest.type
    by_type: dict[str, int] = {}
    for layer in facts.layers:
        by_type[layer.type] = by_type.get(layer.type, 0) + layer.parameters
    totals = ", ".join(f"{k} {v:,}" for k, v in sorted(by_type.items(), key=lambda kv: -kv[1]) if v)
    if kind == "Linear":
        shown = f"Linear({s.get('in_features')}, {s.get('out_features')})"
        advice = _("It takes {n} inputs: shrink what reaches it (pool more before Flatten, or "
                   "nn.AdaptiveAvgPool2d(1) to keep one number per channel) or give it fewer "
                   "outputs.").format(n=f"{s.get('in_features'):,}")
    elif kind == "Conv2d":
        k = "×".join(map(str, s.get("kernel_size") or []))
        shown = f"Conv2d({s.get('in_channels')}→{s.get('out_channels')}, {k})"
        advice = _("A Conv2d has k×k×in×out weights, so its count grows with the square of the "
                   "width: use fewer channels (halving every layer's channels quarters the count) "
                   "or fewer blocks. Published architectures (ResNet-18 has 11M parameters, VGG-16 "
                   "138M) are built for bigger budgets than this lab's.")
    else:
        shown, advice = kind, _("Make it, or the layers like it, smaller.")
    return SubmissionError(
        "too_many_parameters", _("the model has {n} trainable parameters, over the budget of "
                                 "{cap}, so it was not trained; its largest layer is `{name}`, "
                                 "{shown}, with {largest}").format(
            n=f"{n:,}", cap=f"{cap:,}", name=biggest.name, shown=shown,
            largest=f"{biggest.parameters:,}"),
        expected=_("at most {cap}").format(cap=f"{cap:,}"), got=f"{n:,} ({totals})",
        hint=advice)
def _trace(e: BaseException, request) -> str:
    if request is None:
        return student_traceback(e, [Path.cwd()])
    from grader.load.notebook import SourceMap
    return SourceMap.of(Path(request.submission)).trace(e)
def as_failure(e: BaseException, request) -> dict:
    if isinstance(e, SubmissionError):
        return e.to_dict()
    if isinstance(e, MemoryError):
        return failure_dict("out_of_memory", _("the process ran out of memory"),
                            hint=HINTS["out_of_memory"])
    if isinstance(e, (SystemExit, KeyboardInterrupt)):
        return failure_dict("training_error", _("the submission called exit ({error})").format(
                                error=type(e).__name__),
                            hint=HINTS["exit"])
    if not isinstance(e, Exception) and request is not None:
        # a BaseException of the student's own that no hook call caught (a helper module's)
        return failure(e, request).to_dict()
    return failure_dict("grader_error", f"{type(e).__name__}: {e}", trace=_trace(e, request))
