"""Facts about a model before it trains: output shape, parameter counts, the output shape
of each layer. Pure functions returning plain data; the parent judges them against the
rubric (grader.checks) and prints them (grader.report).
"""
from __future__ import annotations

import torch
from torch import nn


def count_parameters(module: nn.Module) -> int:
    """Trainable parameters: what the lecture's k*k*in*out + out formula counts
    (BatchNorm's running mean and variance are buffers, not parameters)."""
    return sum(p.numel() for p in module.parameters() if p.requires_grad)


def inspect_model(model: nn.Module, input_shape: tuple[int, ...], modules: list[str]) -> dict:
    """Run one batch of 2 images through the model and record what every layer produced.

    `modules` are the dotted names the rubric checks (e.g. "features", "layer1.0"); a name
    the model does not have is reported as missing rather than failing the whole inspection.
    """
    named = dict(model.named_modules())
    leaves = [name for name, m in named.items() if name and not list(m.children())]
    watched = list(dict.fromkeys(leaves + [m for m in modules if m in named]))
    outputs: dict[str, list[int] | None] = {}

    def hook_for(name):
        def record(_module, _inputs, output):
            outputs[name] = list(output.shape) if torch.is_tensor(output) else None
        return record

    handles = [named[name].register_forward_hook(hook_for(name)) for name in watched]
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            out = model(torch.randn(2, *input_shape))
    finally:
        for h in handles:
            h.remove()
        model.train(was_training)
    layers = [{"name": name, "type": type(named[name]).__name__,
               "output_shape": outputs.get(name), "parameters": count_parameters(named[name])}
              for name in leaves]
    return {
        "output_shape": list(out.shape) if torch.is_tensor(out) else None,
        "output_type": type(out).__name__,
        "parameters": count_parameters(model),
        "total_parameters": sum(p.numel() for p in model.parameters()),
        "layers": layers,
        "modules": {m: {"exists": m in named,
                        "output_shape": outputs.get(m, None),
                        "parameters": count_parameters(named[m]) if m in named else None}
                    for m in modules},
    }
