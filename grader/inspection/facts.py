"""Facts about a model before it trains: output shape, parameter counts, what every layer
received and produced, and where a forward pass broke. Pure functions returning plain
data; the parent judges them against the rubric (grader.inspection.checks) and prints them
(grader.report.markdown).
"""
from __future__ import annotations

import torch
from torch import nn
from torch.nn.parameter import is_lazy

from grader.failures import EXITS
from grader.i18n import _

# Layer settings worth showing a student next to a wrong shape or count.
SETTINGS = ("in_channels", "out_channels", "kernel_size", "stride", "padding",
            "in_features", "out_features", "num_features")


def count_parameters(module: nn.Module) -> int:
    """Trainable parameters: what the lecture's k*k*in*out + out formula counts
    (BatchNorm's running mean and variance are buffers, not parameters). A lazy module's
    parameters count once a forward pass has given them their size; before, they are
    left out (`uninitialized` lists them)."""
    return sum(p.numel() for p in module.parameters() if p.requires_grad and not is_lazy(p))


def count_buffers(module: nn.Module) -> int:
    return sum(b.numel() for b in module.buffers() if not is_lazy(b) and b.is_floating_point())


def uninitialized(module: nn.Module) -> list[str]:
    """The submodules whose parameters are still lazy (nn.LazyLinear before its first
    forward pass): their size, and so the model's parameter count, is not known."""
    return sorted({name.rpartition(".")[0] or name for name, p in module.named_parameters()
                   if is_lazy(p)})


def describe_output(out) -> str:
    """What a forward pass returned, as a student would recognise it."""
    if torch.is_tensor(out):
        return _("a tensor of shape {shape}").format(shape=list(out.shape))
    if isinstance(out, (tuple, list)):
        parts = [f"{list(x.shape)}" if torch.is_tensor(x) else type(x).__name__ for x in out[:5]]
        tensors = all(torch.is_tensor(x) for x in out)
        more = ", ..." if len(out) > 5 else ""
        if tensors:
            return _("a {type} of {n} tensors with shapes {shapes}").format(
                type=type(out).__name__, n=len(out), shapes=", ".join(parts)) + more
        return _("a {type} of {n} values: {values}").format(
            type=type(out).__name__, n=len(out), values=", ".join(parts)) + more
    if isinstance(out, dict):
        keys = ", ".join(map(repr, list(out)[:5]))
        return _("a dict with keys {keys}").format(keys=keys)
    return _("a {type}").format(type=type(out).__name__)


def inspect_model(model: nn.Module, input_shape: tuple[int, ...],
                  modules: list[str]) -> tuple[dict, BaseException | None]:
    """Run one batch of 2 images through the model and record what every layer received
    and produced, in the order the forward pass reached them.

    `modules` are the dotted names the rubric checks (e.g. "layer1", "fc"); a name the
    model does not have is reported as missing rather than failing the whole inspection.
    A forward pass that raises still returns what ran before it, and `error` says in which
    layer it broke, so the layers before the break still earn their checks. Returns the
    facts, plain data for the parent (grader.inspection.modelfacts reads them), and the
    exception the forward pass raised, or None, which the child explains.
    """
    named = dict(model.named_modules())
    leaves = [name for name, m in named.items() if name and not list(m.children())]
    watched = list(dict.fromkeys(leaves + [m for m in modules if m in named]))
    inputs: dict[str, list[int] | None] = {}
    outputs: dict[str, list[int] | None] = {}
    order: list[str] = []
    open_calls: list[str] = []  # modules entered and not yet left: the innermost one broke

    def before(name):
        def record(_module, args):
            if name not in inputs:
                order.append(name)
                first = args[0] if args else None
                inputs[name] = list(first.shape) if torch.is_tensor(first) else None
            open_calls.append(name)
        return record

    def after(name):
        def record(_module, _args, output):
            outputs.setdefault(name, list(output.shape) if torch.is_tensor(output) else None)
            if open_calls and open_calls[-1] == name:
                open_calls.pop()
        return record

    # a scripted model (torch.jit.script) runs its compiled graph: hooks cannot be registered
    # on it, and those registered on its submodules are not called, so it is run without
    # them and its layers are listed without shapes
    scripted = isinstance(model, torch.jit.ScriptModule)
    handles = [] if scripted else [h for name in watched for h in (
        named[name].register_forward_pre_hook(before(name)),
        named[name].register_forward_hook(after(name)))]
    was_training = model.training
    model.eval()
    out, error, raised = None, None, None
    try:
        with torch.no_grad():
            out = model(torch.randn(2, *input_shape))
    except EXITS:
        raise
    except BaseException as e:  # noqa: BLE001 - recorded (the student's own BaseException too)
        error = {"type": type(e).__name__, "message": str(e)[:500],
                 "module": open_calls[-1] if open_calls else None}
        raised = e
    finally:
        for h in handles:
            h.remove()
        model.train(was_training)
    ran = [n for n in order if n in leaves]
    layers = [_layer(name, named[name], inputs.get(name), outputs.get(name))
              for name in ran + [n for n in leaves if n not in inputs]]
    return {
        "output_shape": list(out.shape) if torch.is_tensor(out) else None,
        "output_type": type(out).__name__,
        "output": describe_output(out) if error is None else None,
        "parameters": count_parameters(model),
        "total_parameters": sum(p.numel() for p in model.parameters() if not is_lazy(p)),
        "uninitialized": uninitialized(model),
        "layers": layers,
        "modules": {m: {"exists": m in named, **(_layer(m, named[m], inputs.get(m), outputs.get(m))
                                                 if m in named else {})}
                    for m in modules},
        "error": error,
        "scripted": scripted,
    }, raised


def _layer(name: str, module: nn.Module, got_in, got_out) -> dict:
    settings = {k: _plain(getattr(module, k)) for k in SETTINGS if hasattr(module, k)}
    if isinstance(module, (nn.Conv2d, nn.Linear)):
        settings["bias"] = module.bias is not None
    kind = getattr(module, "original_name", None) if isinstance(
        module, torch.jit.RecursiveScriptModule) else None  # a scripted layer: its own class
    return {"name": name, "type": kind or type(module).__name__, "input_shape": got_in,
            "output_shape": got_out, "parameters": count_parameters(module),
            "buffers": count_buffers(module), "settings": settings,
            "convs": [_conv(m) for m in module.modules() if isinstance(m, nn.Conv2d)],
            "norms": [m.num_features for m in module.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]}


def _conv(m: nn.Conv2d) -> dict:
    return {"in": m.in_channels, "out": m.out_channels, "kernel": list(m.kernel_size),
            "padding": _plain(m.padding), "stride": list(m.stride), "bias": m.bias is not None}


def _plain(v):
    return list(v) if isinstance(v, tuple) else v if isinstance(v, (int, float, str, bool)) else str(v)
