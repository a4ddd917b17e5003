"""Data sets: found on disk (or downloaded), decoded once into a uint8 cache.

Whatever the source (torchvision's CIFAR-10 or Fashion-MNIST files, an ImageFolder tree,
a tarball of one), the result is the same four arrays in a cache folder:
train_x [N, H, W, C] uint8, train_y [N] int64, test_x, test_y. Later runs memory-map
them instead of decoding 60,000 images again. The cache folder is keyed on the source's
files (path, size, mtime), and the arrays' own content digest keys the baseline cache.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import tarfile
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from grader.i18n import _
from grader.rubric import DatasetSpec

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff"}
CIFAR10_CLASSES = ("airplane", "automobile", "bird", "cat", "deer",
                   "dog", "frog", "horse", "ship", "truck")
FASHION_CLASSES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                   "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot")
FASHION_FILES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte",
                 "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")


@dataclass(frozen=True)
class DatasetInfo:
    """What a student's hooks are told about the data (the spec's `info`)."""
    name: str
    in_channels: int
    image_size: tuple[int, int]
    num_classes: int
    mean: tuple[float, ...]
    std: tuple[float, ...]
    classes: tuple[str, ...]


CIFAR10 = DatasetInfo("cifar10", 3, (32, 32), 10, (0.4914, 0.4822, 0.4465),
                      (0.2023, 0.1994, 0.2010), CIFAR10_CLASSES)
FASHION_MNIST = DatasetInfo("fashion_mnist", 1, (28, 28), 10, (0.2861,), (0.3530,),
                            FASHION_CLASSES)


class DataNotFound(Exception):
    """The data set is neither on disk nor downloadable; the message says where to put it."""


@dataclass(frozen=True)
class CachedData:
    info: DatasetInfo
    folder: Path        # train_x.npy, train_y.npy, test_x.npy, test_y.npy, meta.json
    digest: str         # content hash of the four arrays
    source: str         # where the images came from, for the report

    def path(self, name: str) -> Path:
        return self.folder / f"{name}.npy"

    def load(self, name: str) -> np.ndarray:
        return np.load(self.path(name), mmap_mode="r")


def prepare_data(spec: DatasetSpec, *, data_dir: Path | None, cache_dir: Path,
                 download: bool = True) -> CachedData:
    """Find the data set, decode it into the cache if needed, and return the cached copy."""
    info = dataset_info(spec)
    cache_dir = Path(cache_dir)  # callers pass str from the CLI and tests
    source, loader = _find_source(spec, info, data_dir, cache_dir, download)
    key_parts = [info.name, str(source), _stat_fingerprint(source)]
    if spec.test_dir:
        key_parts += [str(Path(spec.test_dir).resolve()), _stat_fingerprint(Path(spec.test_dir))]
    key = hashlib.sha256("\n".join(key_parts).encode()).hexdigest()[:16]
    folder = cache_dir / "data" / f"{info.name}-{key}"
    meta_path = folder / "meta.json"
    if not meta_path.exists():
        arrays = loader()
        if spec.test_dir:
            arrays["test_x"], arrays["test_y"] = _decode_image_folder(
                Path(spec.test_dir), info, classes=info.classes)
        _write_cache(folder, arrays, info, str(source), private_test=spec.test_dir)
    meta = json.loads(meta_path.read_text())
    return CachedData(info, folder, meta["digest"], meta["source"])


def dataset_info(spec: DatasetSpec) -> DatasetInfo:
    if spec.name == "cifar10":
        return CIFAR10
    if spec.name == "fashion_mnist":
        return FASHION_MNIST
    root = Path(spec.root)
    classes = tuple(sorted(p.name for p in (root / "train").iterdir() if p.is_dir())) \
        if (root / "train").is_dir() else ()
    return DatasetInfo(root.name or "imagefolder", spec.channels, tuple(spec.image_size),
                       len(classes), tuple(spec.mean), tuple(spec.std), classes)


def split_validation(n: int, fraction: float, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(train indices, validation indices): a fixed, seeded slice of the training set."""
    order = np.random.default_rng(seed).permutation(n)
    n_val = max(1, int(round(n * fraction)))
    return np.sort(order[n_val:]), np.sort(order[:n_val])


# --- finding a source ---------------------------------------------------------------------

def _find_source(spec, info, data_dir, cache_dir, download):
    """Return (path that identifies the source, function decoding it into arrays)."""
    if spec.name == "imagefolder":
        root = Path(spec.root)
        if not (root / "train").is_dir() or not (root / "test").is_dir():
            raise DataNotFound(f"The image folder {root} needs train/<class>/ and test/<class>/ "
                               "sub-folders of images.")
        return root, lambda: _decode_split_tree(root, info)
    roots = [Path(data_dir)] if data_dir else []
    download_root = cache_dir / "downloads"
    roots.append(download_root)
    finder = _find_cifar10 if spec.name == "cifar10" else _find_fashion_mnist
    for root in roots:
        found = finder(root, info, cache_dir)
        if found:
            return found
    if not download:
        raise DataNotFound(_missing_message(spec.name, data_dir, _("downloads are off")))
    try:
        _download(spec.name, download_root)
    except Exception as e:  # no network, proxy, server down: all end the same way
        raise DataNotFound(_missing_message(spec.name, data_dir, _("download failed: {error}").format(error=e))) from None
    return finder(download_root, info, cache_dir)


def _find_fashion_mnist(root, info, cache_dir):
    raw = root / "FashionMNIST" / "raw"
    if all((raw / f).is_file() for f in FASHION_FILES):
        return raw, lambda: _load_torchvision("fashion_mnist", root)
    return None


def _find_cifar10(root, info, cache_dir):
    for official in (root / "cifar-10-batches-py", root / "cifar-10-python.tar.gz"):
        if official.exists():
            return official, lambda: _load_torchvision("cifar10", root)
    for tree in (root / "cifar10", root):
        if (tree / "train").is_dir() and (tree / "test").is_dir():
            return tree, lambda: _decode_split_tree(tree, info)
    for tarball in sorted(root.glob("cifar10*.tar.gz")) if root.is_dir() else []:
        return tarball, lambda: _decode_tarball(tarball, info, cache_dir)
    return None


def _download(name, root):
    from torchvision import datasets
    cls = datasets.CIFAR10 if name == "cifar10" else datasets.FashionMNIST
    for train in (True, False):
        cls(root=str(root), train=train, download=True)


def _missing_message(name, data_dir, reason):
    where = data_dir or "DATA_DIR"
    if name == "fashion_mnist":
        files = "\n".join(f"    {where}/FashionMNIST/raw/{f}" for f in FASHION_FILES)
        options = "  " + _("the four Fashion-MNIST IDX files (gunzipped), as torchvision lays them "
                           "out:") + "\n" + files
    else:
        options = "\n".join([
            "  - " + _("{where}/cifar-10-python.tar.gz or {where}/cifar-10-batches-py/ (the "
                       "official 'CIFAR-10 python version'), or").format(where=where),
            "  - " + _("an image folder tree {where}/train/<class>/*.png and "
                       "{where}/test/<class>/*.png, or").format(where=where),
            "  - " + _("a tarball of such a tree, {where}/cifar10-jpeg.tar.gz").format(where=where)])
    return (_("The {name} data set is not on disk and could not be downloaded ({reason}).").format(
        name=name, reason=reason) + "\n" + _("Put it in a folder and pass that folder as "
                                             "--data-dir:") + "\n" + options)


# --- decoding -----------------------------------------------------------------------------

def _load_torchvision(name, root):
    from torchvision import datasets
    cls = datasets.CIFAR10 if name == "cifar10" else datasets.FashionMNIST
    download = name == "cifar10" and not (root / "cifar-10-batches-py").is_dir()  # extract only
    out = {}
    for split, train in (("train", True), ("test", False)):
        ds = cls(root=str(root), train=train, download=download)
        x = np.asarray(ds.data, dtype=np.uint8)
        out[f"{split}_x"] = x[..., None] if x.ndim == 3 else x  # always [N, H, W, C]
        out[f"{split}_y"] = np.asarray(ds.targets, dtype=np.int64)
    return out


def _decode_tarball(tarball, info, cache_dir):
    with tempfile.TemporaryDirectory(dir=_mkdir(cache_dir)) as tmp:
        with tarfile.open(tarball) as tar:
            # The "data" filter refuses absolute paths and links that point outside.
            kwargs = {"filter": "data"} if hasattr(tarfile, "data_filter") else {}
            tar.extractall(tmp, **kwargs)
        tops = [p for p in Path(tmp).iterdir() if p.is_dir()]
        tree = tops[0] if len(tops) == 1 and not (Path(tmp) / "train").is_dir() else Path(tmp)
        return _decode_split_tree(tree, info)


def _decode_split_tree(root, info):
    train_x, train_y = _decode_image_folder(root / "train", info, classes=info.classes or None)
    test_x, test_y = _decode_image_folder(root / "test", info, classes=info.classes or None)
    return {"train_x": train_x, "train_y": train_y, "test_x": test_x, "test_y": test_y}


def decode_image(path: Path, channels: int, size: tuple[int, int]) -> np.ndarray:
    """One image file as the data set stores its images: [H, W, C] uint8, converted to
    the data set's channels and resized (bilinear) to its size. Raises what PIL raises."""
    from PIL import Image
    h, w = size
    with Image.open(path) as im:
        im = im.convert("L" if channels == 1 else "RGB")
        if im.size != (w, h):
            im = im.resize((w, h), Image.BILINEAR)
        return np.asarray(im, dtype=np.uint8).reshape(h, w, channels)


def _decode_image_folder(folder, info, classes=None):
    """folder/<class>/<image> -> ([N, H, W, C] uint8, [N] int64), classes in `classes` order."""
    found = sorted(p.name for p in Path(folder).iterdir() if p.is_dir())
    classes = list(classes or found)
    missing = sorted(set(found) - set(classes))
    if missing:
        raise DataNotFound(f"{folder}: class folders {missing} are not classes of {info.name} "
                           f"({', '.join(classes)})")
    images, labels = [], []
    for label, name in enumerate(classes):
        cdir = Path(folder) / name
        files = sorted(p for p in cdir.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES) \
            if cdir.is_dir() else []
        for f in files:
            images.append(decode_image(f, info.in_channels, info.image_size))
            labels.append(label)
    if not images:
        raise DataNotFound(f"{folder}: no images found in its class folders")
    return np.stack(images), np.asarray(labels, dtype=np.int64)


def _write_cache(folder, arrays, info, source, private_test):
    """Write atomically: a half-written cache from an interrupted run must never be read."""
    parent = _mkdir(folder.parent)
    tmp = Path(tempfile.mkdtemp(dir=parent, prefix=f".partial-{os.getpid()}-"))  # files.sweep_scratch
    digest = hashlib.sha256()
    for name in ("train_x", "train_y", "test_x", "test_y"):
        arr = np.ascontiguousarray(arrays[name])
        np.save(tmp / f"{name}.npy", arr)
        digest.update(name.encode() + arr.tobytes())
    meta = {"info": asdict(info), "source": source, "private_test_dir": private_test,
            "digest": digest.hexdigest()[:16],
            "sizes": {k: int(len(arrays[k])) for k in ("train_x", "test_x")}}
    (tmp / "meta.json").write_text(json.dumps(meta, indent=2))
    try:
        os.replace(tmp, folder)
    except OSError:  # another run finished the same cache first: keep theirs
        shutil.rmtree(tmp, ignore_errors=True)


def _stat_fingerprint(path: Path) -> str:
    path = Path(path)
    entries = sorted(path.rglob("*")) if path.is_dir() else [path]
    h = hashlib.sha256()
    for p in entries:
        st = p.stat()
        h.update(f"{p}|{st.st_size}|{st.st_mtime_ns}\n".encode())
    return h.hexdigest()


def _mkdir(p: Path) -> Path:
    p.mkdir(parents=True, exist_ok=True)
    return p
