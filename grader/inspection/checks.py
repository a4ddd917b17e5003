"""The rubric's structural checks, judged in the parent from the facts the child reported.

Pure functions: (rubric, facts: grader.inspection.modelfacts.ModelFacts) -> CheckResult list. A check whose facts are missing
because an earlier step failed is failed with the reason, like check50's skipped checks.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from grader.i18n import _, ngettext
from grader.inspection.modelfacts import FirstWrong, ModelFacts, ModuleFacts
from grader.rubric import CHECK_KINDS, SHAPE_KINDS, Check, Rubric


def shape(dims) -> str:
    """[64, 8, 8] as the reports write it: 64×8×8."""
    return "?" if dims is None else "×".join(str(d) for d in dims)


@dataclass(frozen=True)
class CheckResult:
    id: str
    title: str
    passed: bool
    points: float
    max_points: float
    output: str


def evaluate_checks(rubric: Rubric, run, num_classes: int) -> list[CheckResult]:
    """`run` is the submission's first grader.sandbox.protocol.Run: its `inspection` and
    `requested` are there when the child got that far; `failure` says why not otherwise."""
    return [_evaluate(c, rubric, run, num_classes) for c in rubric.checks]


def _evaluate(check: Check, rubric: Rubric, run, num_classes: int) -> CheckResult:
    kind = CHECK_KINDS[check.kind]
    # the rubric's own title as written; the grader's default in the run's language
    title = check.title or _(kind.title).format(module=check.module, classes=num_classes)
    facts = run.inspection
    if any(getattr(run, need) is None for need in kind.needs):
        reason = (run.failure or {}).get("summary", _("an earlier step failed"))
        return CheckResult(check.id, title, False, 0.0, check.points,
                           _("Not checked: {reason}.").format(reason=reason))
    passed, output = JUDGES[check.kind](check, rubric, run, facts, num_classes)
    return CheckResult(check.id, title, passed, check.points if passed else 0.0, check.points, output)


def _output_shape(check, rubric, run, facts, num_classes):
    got = facts.output_shape
    want = [2, num_classes]
    if got == want:
        return True, _("A batch of 2 images gives logits {got}.").format(got=got)
    if facts.error:
        return False, _("No output: the forward pass raised in {where}.").format(where=_where(facts))
    return False, _("Expected logits [N, {classes}] (for 2 images: {want}), got {got}. The last "
                    "layer must be Linear(..., {classes}) and forward must return its output.").format(
        classes=num_classes, want=want,
        got=got if got is not None else facts.output or facts.output_type)


def _max_parameters(check, rubric, run, facts, num_classes):
    n, cap = facts.parameters, rubric.budget.max_parameters
    lazy = facts.uninitialized or []
    if lazy and n <= cap:  # the count is a lower bound: never pass on it
        return False, _("Not known: the lazy layers {layers} never ran, so their size is unknown "
                        "({n} counted without them, budget {cap}).").format(
            layers=", ".join(lazy), n=f"{n:,}", cap=f"{cap:,}")
    if n <= cap:
        return True, _("{n} trainable parameters (budget {cap}).").format(n=f"{n:,}", cap=f"{cap:,}")
    biggest = max(facts.layers, key=lambda layer: layer.parameters, default=None)
    where = " " + _("The largest layer is `{name}` ({type}, {n}).").format(
        name=biggest.name, type=biggest.type, n=f"{biggest.parameters:,}") if biggest else ""
    return False, _("{n} trainable parameters, over the budget of {cap}.").format(
        n=f"{n:,}", cap=f"{cap:,}") + where


def _budget(check, rubric, run, facts, num_classes):
    req, b = run.requested, rubric.budget
    problems = []
    if req["EPOCHS"] > b.max_epochs:
        problems.append(_("EPOCHS = {got} is over the budget of {max} (trained for {max})").format(
            got=req["EPOCHS"], max=b.max_epochs))
    if req["BATCH_SIZE"] > b.max_batch_size:
        problems.append(_("BATCH_SIZE = {got} is over the cap of {max} (trained with {max})").format(
            got=req["BATCH_SIZE"], max=b.max_batch_size))
    if problems:
        return False, "; ".join(problems) + "."
    return True, _("EPOCHS = {epochs} (max {max_epochs}), BATCH_SIZE = {batch} (max {max_batch}).").format(
        epochs=req["EPOCHS"], max_epochs=b.max_epochs, batch=req["BATCH_SIZE"],
        max_batch=b.max_batch_size)


def _module_facts(check, facts):
    m = facts.modules.get(check.module)
    if m is None or not m.exists:
        names = sorted({layer.name.split(".")[0] for layer in facts.layers})
        return None, _("The model has no submodule `{module}` (its top-level submodules: "
                       "{names}). Name the attribute as the assignment asks.").format(
            module=check.module, names=", ".join(names) or _("none"))
    return m, None


def _module_output_shape(check, rubric, run, facts, num_classes):
    m, missing = _module_facts(check, facts)
    if missing:
        return False, missing
    want = list(check.expected)
    if m.output_shape is None:
        return False, _("`{module}` produced no output: {why}.").format(
            module=check.module, why=_no_output(check.module, m, facts))
    got = m.output_shape[1:]
    if got == want:
        return True, _("`{module}` outputs {got} per image.").format(module=check.module, got=shape(got))
    first = first_wrong(rubric, facts)
    if m.type == "Identity":
        cause = _("it is still the skeleton's nn.Identity() placeholder: build the block.")
    elif first and first.module != check.module:
        cause = _("it follows from `{first}`, the first wrong shape: fix that first.").format(
            first=first.module)
    else:
        cause = shape_cause(want, got, m)
    return False, (_("`{module}` should output {want} per image, got {got}.").format(
        module=check.module, want=shape(want), got=shape(got))
        + (" " + _("Likely cause: {cause}").format(cause=cause) if cause else ""))


def _module_input_shape(check, rubric, run, facts, num_classes):
    """What reaches the module (the classifier's input size), and for a Linear, whether
    its in_features agrees."""
    m, missing = _module_facts(check, facts)
    if missing:
        return False, missing
    want = list(check.expected)
    declared = m.settings.get("in_features")
    if m.input_shape is None:
        return False, _("Nothing reached `{module}`: {why}.").format(
            module=check.module, why=_no_output(check.module, m, facts))
    got = m.input_shape[1:]
    if got == want and (declared is None or [declared] == want[-1:]):
        if declared:
            return True, _("`{module}` receives {got} per image and is sized for it "
                           "(in_features={declared}).").format(
                module=check.module, got=shape(got), declared=declared)
        return True, _("`{module}` receives {got} per image.").format(module=check.module, got=shape(got))
    if got == want:
        return False, _("`{module}` receives {got} features per image but is Linear({declared}, "
                        "...). Likely cause: {cause}").format(
            module=check.module, got=shape(got), declared=declared,
            cause=linear_cause(declared, want[-1], facts, check.module))
    ratio = math.prod(got) / max(1, math.prod(want))
    cause = ""
    first = first_wrong(rubric, facts)
    if first and first.module != check.module:
        cause = " " + _("It follows from `{first}`, the first wrong shape: fix that first.").format(
            first=first.module)
    elif ratio > 1 and _power_of(ratio, 4):
        k = _power_of(ratio, 4)
        cause = " " + _("{ratio}x too many: {k} MaxPool2d(2) missing upstream (each halves height "
                        "and width, so it quarters the flattened size).").format(ratio=f"{ratio:g}", k=k)
    return False, _("`{module}` should receive {want} per image, got {got}.").format(
        module=check.module, want=shape(want), got=shape(got)) + cause


def _module_parameters(check, rubric, run, facts, num_classes):
    m, missing = _module_facts(check, facts)
    if missing:
        return False, missing
    got, want = m.parameters, check.expected
    if got == want:
        return True, _("`{module}` has {got} parameters ({formula}).").format(
            module=check.module, got=f"{got:,}", formula=formula(check.module, facts))
    cause = parameter_cause(want, got, m)
    return False, (_("`{module}` should have {want} parameters, got {got} ({formula}).").format(
        module=check.module, want=f"{want:,}", got=f"{got:,}", formula=formula(check.module, facts))
        + (" " + _("Likely cause: {cause}").format(cause=cause) if cause else ""))


def _stated_parameters(check, rubric, run, facts, num_classes):
    """The student's hand count (PARAMETER_COUNTS) against their own module's real count:
    it grades the reasoning, whether or not the layer itself is right."""
    m, missing = _module_facts(check, facts)
    if missing:
        return False, missing
    stated = ((run.requested or {}).get("PARAMETER_COUNTS") or {}).get(check.module)
    actual = m.parameters
    if stated is None:
        return False, _("PARAMETER_COUNTS has no entry for `{module}`: count it by hand "
                        "(k×k×in×out + out per Conv2d, 2×C per BatchNorm2d, in×out + out per "
                        "Linear) and write it in model.py.").format(module=check.module)
    if stated == actual:
        return True, _("Your count {stated} for `{module}` is right.").format(
            stated=f"{stated:,}", module=check.module)
    design = next((c.expected for c in rubric.checks
                   if c.kind == "module_parameters" and c.module == check.module), None)
    if stated == design:  # right for the assignment's layer, though theirs differs
        return True, _("Your count {stated} is right for the assignment's `{module}` (yours has "
                       "{actual}: see its parameter check).").format(
            stated=f"{stated:,}", module=check.module, actual=f"{actual:,}")
    norms, convs = sum(m.norms), m.convs
    if norms and stated == actual + m.buffers:
        cause = _("you also counted BatchNorm's running mean and variance ({buffers}): those are "
                  "buffers, estimated from the data rather than learned, so they are not "
                  "parameters (2×C per BatchNorm2d counts its weight and bias).").format(
            buffers=f"{m.buffers:,}")
    elif norms and stated == actual - 2 * norms:
        cause = _("you left out BatchNorm2d's weight and bias (2×{norms} = {total}).").format(
            norms=norms, total=2 * norms)
    elif convs and stated == actual - sum(c.out for c in convs if c.bias):
        cause = _("you left out the biases (the + out in k×k×in×out + out).")
    else:
        cause = _("recount: {formula}.").format(formula=formula(check.module, facts))
    return False, _("You wrote {stated} for `{module}`; it has {actual} trainable parameters. "
                    "Likely cause: {cause}").format(
        stated=f"{stated:,}", module=check.module, actual=f"{actual:,}", cause=cause)


# --- likely causes: one sentence a student can act on ------------------------------------

def shape_cause(want: list[int], got: list[int], m: ModuleFacts) -> str:
    if len(want) != 3 or len(got) != 3:
        return ""
    causes = []
    (wc, wh, ww), (gc, gh, gw) = want, got
    if gc != wc:
        last = m.convs[-1].out if m.convs else None
        causes.append(_("{got} channels instead of {want}: the last Conv2d here has "
                        "out_channels={last}.").format(got=gc, want=wc, last=last)
                      if last is not None else
                      _("{got} channels instead of {want}.").format(got=gc, want=wc))
    if (gh, gw) != (wh, ww):
        k = _power_of(gh / wh, 2) if gh > wh and gh / wh == gw / ww else 0
        unpadded = [c for c in m.convs if max(c.kernel) > 1 and _no_padding(c.padding)]
        if k:
            causes.append(ngettext(
                "{h}×{w} is {factor}x too large: a MaxPool2d(2) is missing (each halves height "
                "and width, {h}→{half}).",
                "{h}×{w} is {factor}x too large: {k} MaxPool2d(2) are missing (each halves "
                "height and width, {h}→{half}).", k).format(
                h=gh, w=gw, factor=2 ** k, k=k, half=gh // 2))
        elif gh < wh and gh * 2 == wh and gw * 2 == ww:
            causes.append(_("{h}×{w} is half the size: one pooling (or stride 2) too many.").format(
                h=gh, w=gw))
        elif unpadded:
            k0 = max(unpadded[0].kernel)
            causes.append(_("a Conv2d with a {k}×{k} kernel and no padding trims {trim} pixels off "
                            "the size; padding={pad} keeps it.").format(k=k0, trim=k0 - 1, pad=k0 // 2))
        else:
            causes.append(_("{h}×{w} instead of {wh}×{ww}: check each layer's stride, padding and "
                            "pooling in the model summary.").format(h=gh, w=gw, wh=wh, ww=ww))
    return " ".join(causes)


def parameter_cause(want: int, got: int, m: ModuleFacts) -> str:
    diff = got - want
    if m.type == "Identity":
        return _("it is still the skeleton's nn.Identity() placeholder: build the block.")
    no_bias = sum(c.out for c in m.convs if not c.bias)
    last_out = m.convs[-1].out if m.convs else None
    if no_bias and diff == -no_bias:
        return _("a Conv2d built with bias=False has no + out term, {n} fewer parameters than "
                 "k×k×in×out + out.").format(n=no_bias)
    if m.convs and not m.norms and diff == -2 * last_out:
        return _("no BatchNorm2d({c}): its weight and bias add 2×{c} = {n} (its running mean and "
                 "variance are buffers, not counted).").format(c=last_out, n=2 * last_out)
    if m.norms and diff == 2 * sum(m.norms):
        return _("one BatchNorm too many (2×C parameters each).")
    if "in_features" in m.settings:
        return _("Linear(in, out) has in×out + out parameters; with in_features={n} check it "
                 "matches the flattened size.").format(n=m.settings["in_features"])
    return _("compare each layer's channels and kernel size with the assignment; the count "
             "above shows where yours comes from.")


def linear_cause(declared: int, received: int, facts: ModelFacts, module: str) -> str:
    """A Linear sized for another image size: in_features = C x s x s for the wrong s."""
    before = _previous_map(facts, module)
    if before and declared % before[0] == 0:
        c, h = before[0], before[1]
        s = round((declared // c) ** 0.5)
        if s * s * c == declared:
            first = facts.layers[0] if facts.layers else None
            image = first.input_shape[-1] if first and first.input_shape else None
            factor = image // h if image and h else None
            other = next((size for size in (28, 32, 64, 96, 224)
                          if factor and size // factor == s and size != image), None)
            sized = " " + _("(what a {n}×{n} input gives)").format(n=other) if other else ""
            return _("in_features={declared} = {c}×{s}×{s} is sized for a {s}×{s} feature "
                     "map{sized}, but this model's last map is {c}×{h}×{w} = {received}: use "
                     "Linear({received}, ...).").format(declared=declared, c=c, s=s, sized=sized,
                                                        h=h, w=before[2], received=received)
    return _("in_features must equal the flattened size, {n}.").format(n=received)


def formula(module: str, facts: ModelFacts) -> str:
    """The lecture's counting, layer by layer, for the layers inside `module`."""
    parts = []
    for layer in facts.layers:
        if not (layer.name == module or layer.name.startswith(module + ".")) \
                or not layer.parameters:
            continue
        s, n = layer.settings, layer.parameters
        text = f"{layer.type} {n:,}"
        if layer.type == "Conv2d":
            kh, kw = s["kernel_size"]
            terms = [kh * kw * s["in_channels"] * s["out_channels"]] + ([s["out_channels"]] if s["bias"] else [])
            if sum(terms) == n:
                text = (f"Conv2d({s['in_channels']}→{s['out_channels']}, {kh}×{kw}): {kh}×{kw}×"
                        f"{s['in_channels']}×{s['out_channels']}" + (f" + {s['out_channels']}" if s["bias"] else "")
                        + f" = {n:,}")
        elif "num_features" in s and n == 2 * s["num_features"]:
            text = f"{layer.type}({s['num_features']}): 2×{s['num_features']} = {n:,}"
        elif layer.type == "Linear":
            text = (f"Linear({s['in_features']}, {s['out_features']}): {s['in_features']}×"
                    f"{s['out_features']}" + (f" + {s['out_features']}" if s["bias"] else "") + f" = {n:,}")
        parts.append(text)
    return "; ".join(parts) or _("no trainable layers")


def first_wrong(rubric: Rubric, facts: ModelFacts | None) -> FirstWrong | None:
    """The first module, in the order the forward pass ran them, whose shape the rubric
    says is wrong, or the layer that raised: the row the model summary marks."""
    if not facts:
        return None
    order = {layer.name: i for i, layer in enumerate(facts.layers)}
    candidates = []
    for c in rubric.checks:
        m = facts.modules.get(c.module) if c.module else None
        if c.kind not in SHAPE_KINDS or not m or not m.exists:
            continue
        seen = (m.output_shape if c.kind == "module_output_shape" else m.input_shape)
        if seen is not None and seen[1:] != list(c.expected):
            first_leaf = min((i for n, i in order.items()
                              if n == c.module or n.startswith(c.module + ".")), default=len(order))
            candidates.append((first_leaf, FirstWrong(module=c.module, expected=list(c.expected),
                                                      got=seen[1:], what=c.kind.split("_")[1])))
    error = facts.error
    if error and error.module:
        candidates.append((order.get(error.module, len(order)),
                           FirstWrong(module=error.module, expected=None, got=None, what="raised",
                                      message=error.message)))
    return min(candidates, key=lambda c: c[0])[1] if candidates else None


def _no_output(module, m, facts):
    if facts.error:
        return _("the forward pass raised in {where}").format(where=_where(facts))
    return _("forward() never calls it")


def _where(facts) -> str:
    e = facts.error
    return (f"`{e.module}`" if e.module else "forward()") + f" ({e.type}: {e.message})"


def _previous_map(facts, module):
    """The last 3-D feature map produced before `module` ran."""
    shapes = []
    for layer in facts.layers:
        if layer.name == module or layer.name.startswith(module + "."):
            break
        if layer.output_shape and len(layer.output_shape) == 4:
            shapes.append(layer.output_shape[1:])
    return shapes[-1] if shapes else None


def _no_padding(padding) -> bool:
    return padding in (0, [0, 0], "valid")


def _power_of(ratio: float, base: int) -> int:
    """k where ratio == base**k for k >= 1, else 0."""
    k = 0
    while ratio >= base and ratio == int(ratio):
        ratio, k = ratio / base, k + 1
    return k if ratio == 1 else 0




JUDGES = {
    "output_shape": _output_shape,
    "max_parameters": _max_parameters,
    "budget": _budget,
    "module_output_shape": _module_output_shape,
    "module_input_shape": _module_input_shape,
    "module_parameters": _module_parameters,
    "stated_parameters": _stated_parameters,
}
