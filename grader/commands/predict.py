"""`grade predict IMAGE... --run OUT`: the lab's inference step with a graded run's model.

Each image (JPEG, PNG, anything PIL reads; colour or grey, any size) is converted to the
data set's channels, resized to its image size and handed to the run's own test
transform, exactly as the test set was; the model is rebuilt from the run's saved hook
source and weights in the same sandboxed child process as grading (the source is the
student's code). Prints top-1 and top-3 with probabilities; `--picture FILE` saves the
images with their predictions as titles.
"""
from __future__ import annotations

import json
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from grader import paths
from grader.files import scratch
from grader.failures import EXIT_GRADED, EXIT_USAGE
from grader.i18n import _, choose, use
from grader.load.datasets import DatasetInfo, decode_image
from grader.records import load
from grader.report.artifacts import META
from grader.sandbox.confine import Limits, cpu_count
from grader.sandbox.launch import run_job
from grader.rubric import Training
from grader.sandbox.protocol import JobRequest


class PredictError(Exception):
    """Bad input to `grade predict`: a message for the user, exit status 2."""


@dataclass
class Prediction:
    image: str
    top: list[tuple[str, float]]   # (class, probability), best first
    pixels: np.ndarray             # [H, W, C] uint8: the image as the model was given it


def load_image(path: Path, channels: int, size: tuple[int, int]) -> np.ndarray:
    """[H, W, C] uint8, as the data set stores its images. An image of more pixels than
    PIL's limit (Image.MAX_IMAGE_PIXELS, about 89 million) is refused before it is
    decoded: a small PNG can claim 30000×30000 pixels and unpack to gigabytes."""
    path = Path(path)
    if not path.is_file():
        raise PredictError(_("{path}: no such file").format(path=path))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            return decode_image(path, channels, size)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as e:
        raise PredictError(_("{path}: refused, the image is too large to decode safely ({error}); "
                             "resize it below {limit} pixels first").format(
            path=path, error=e, limit=f"{Image.MAX_IMAGE_PIXELS:,}")) from None
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as e:
        raise PredictError(_("{path}: not an image PIL can read ({error})").format(
            path=path, error=e)) from None


def load_run(run: Path) -> dict:
    meta_path = Path(run) / META
    if not meta_path.is_file():
        raise PredictError(_("{run} holds no trained model ({meta} is missing): point --run at "
                             "the --out folder of a graded run (grade --local, ci or batch "
                             "feedback/<student>)").format(run=run, meta=META))
    meta = json.loads(meta_path.read_text())
    for key in ("weights", "source"):
        if not (Path(run) / meta[key]).exists():
            raise PredictError(_("{run}: {file} is missing; grade the submission again").format(
                run=run, file=meta[key]))
    return meta


def predict_images(images: list[Path], run: Path, device: str = "cpu", k: int = 3) -> list[Prediction]:
    from grader.grading import resolve_device
    run = Path(run)
    meta = load_run(run)
    info = load(DatasetInfo, meta["info"], META)
    arrays = [load_image(p, info.in_channels, info.image_size) for p in images]
    device = resolve_device(device)
    reference = paths.ROOT / meta.get("baseline", "reference/baseline.py")
    with scratch("predict") as tmp:
        job = Path(tmp) / "job"
        job.mkdir()
        source = run / meta["source"]
        submission = source / "submission.py" if (source / "submission.py").is_file() else source
        np.save(Path(tmp) / "images.npy", np.stack(arrays))
        request = JobRequest(mode="predict", submission=str(submission), reference=str(reference),
                             model_hook=meta["model_hook"], info=info, device=device,
                             threads=cpu_count(), training=Training(**meta["training"]))
        limits = Limits(time_s=300, memory_mb=None if device.startswith("cuda") else 4096,
                        threads=request.threads)
        outcome = run_job(job, request, files={"images": Path(tmp) / "images.npy",
                                               "weights": run / meta["weights"]},
                          limits=limits, show=[submission, reference])
    result = outcome.result
    if result.failure or result.logits is None:
        failure = result.failure or {"message": "no result"}
        last = (failure.get("got") or failure.get("trace") or "").strip().splitlines()[-3:]
        raise PredictError(_("the model could not be run: {message}").format(message=failure["message"])
                           + "".join(f"\n  {line}" for line in last))
    import torch
    probs = torch.softmax(result.logits.float(), 1).numpy()
    classes = info.classes
    out = []
    for path, p, pixels in zip(images, probs, arrays):
        best = np.argsort(-p, kind="stable")[:k]
        out.append(Prediction(str(path), [(classes[i], float(p[i])) for i in best], pixels))
    return out


def picture_png(predictions: list[Prediction]) -> bytes:
    """The images as the model saw them (resized), each titled with its top-1."""
    from grader.report.figures import image_grid_png
    titles = [f"{p.top[0][0]} {100 * p.top[0][1]:.2f}%\n{Path(p.image).name}" for p in predictions]
    return image_grid_png([p.pixels for p in predictions], titles,
                          columns=min(len(predictions), 4), cell=(2.6, 2.9), fontsize=8)


def main(*, images: list[Path], run: Path, device: str = "cpu", picture: Path | None = None,
         lang: str | None = None, console=None) -> int:
    from rich.console import Console
    from rich.table import Table

    from grader.report.escape import markup, rich_text
    use(choose(lang))
    console = console or Console(soft_wrap=True)  # whole lines for grep and logs
    try:
        predictions = predict_images(images, run, device)
    except PredictError as e:
        console.print("[red]" + _("error") + "[/]: " + markup(e))  # it may quote the hooks' error
        return EXIT_USAGE
    meta = load_run(run)
    table = Table(title=markup(_("Predictions of the model in {run} ({rubric}, test accuracy "
                          "{accuracy})").format(run=run, rubric=meta["rubric"],
                                                accuracy=f"{meta['test_accuracy']:.2%}")))
    table.add_column(_("Image"))
    table.add_column("Top-1")
    table.add_column("Top-3")
    names = [Path(pred.image).name for pred in predictions]
    for pred, short in zip(predictions, names):
        name, p = pred.top[0]
        table.add_row(rich_text(short if names.count(short) == 1 else pred.image),
                      rich_text(f"{name} {100 * p:.2f}%"),
                      rich_text(", ".join(f"{c} {100 * q:.2f}%" for c, q in pred.top)))
    console.print(table)
    if picture:
        from grader.files import write_atomic
        write_atomic(Path(picture), picture_png(predictions))
        console.print(markup(_("wrote {path}").format(path=picture)))
    return EXIT_GRADED
