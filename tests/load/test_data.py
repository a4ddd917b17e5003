import numpy as np
import pytest

from synthetic import write_tarball
from grader.load.datasets import (CIFAR10_CLASSES, DataNotFound, prepare_data, split_validation)
from grader.rubric import DatasetSpec


def test_fashion_mnist_idx_files_decode_to_uint8_nhwc(fmnist_dir, tmp_path):
    d = prepare_data(DatasetSpec(name="fashion_mnist"), data_dir=fmnist_dir, cache_dir=tmp_path)
    x, y = d.load("train_x"), d.load("train_y")
    assert x.shape == (1200, 28, 28, 1) and x.dtype == np.uint8
    assert y.shape == (1200,) and y.dtype == np.int64 and set(np.unique(y)) <= set(range(10))
    assert d.load("test_x").shape == (400, 28, 28, 1)
    assert d.info.in_channels == 1 and d.info.image_size == (28, 28)


def test_second_prepare_reads_the_cache_without_decoding(fmnist_dir, tmp_path, monkeypatch):
    first = prepare_data(DatasetSpec(name="fashion_mnist"), data_dir=fmnist_dir, cache_dir=tmp_path)
    import grader.load.datasets as data
    monkeypatch.setattr(data, "_load_torchvision", lambda *a: pytest.fail("decoded again"))
    again = prepare_data(DatasetSpec(name="fashion_mnist"), data_dir=fmnist_dir, cache_dir=tmp_path)
    assert again.folder == first.folder and again.digest == first.digest


def test_cifar10_from_an_image_folder_tree(cifar_tree, tmp_path):
    d = prepare_data(DatasetSpec(name="cifar10"), data_dir=cifar_tree, cache_dir=tmp_path)
    assert d.load("train_x").shape == (300, 32, 32, 3)
    assert d.info.classes == CIFAR10_CLASSES


def test_cifar10_from_a_tarball_matches_the_tree(cifar_tree, tmp_path):
    tar_dir = tmp_path / "tarred"
    tar_dir.mkdir()
    write_tarball(cifar_tree, tar_dir / "cifar10-jpeg.tar.gz")
    from_tar = prepare_data(DatasetSpec(name="cifar10"), data_dir=tar_dir, cache_dir=tmp_path / "a")
    from_tree = prepare_data(DatasetSpec(name="cifar10"), data_dir=cifar_tree, cache_dir=tmp_path / "b")
    assert from_tar.digest == from_tree.digest  # same pixels, same labels, same order
    assert from_tar.source.endswith("cifar10-jpeg.tar.gz")


def test_private_test_set_replaces_the_public_split(cifar_tree, tmp_path):
    private = tmp_path / "private"
    for i, name in enumerate(CIFAR10_CLASSES[:3]):
        (private / name).mkdir(parents=True)
        for j in range(2):
            src = next((cifar_tree / "test" / name).glob("*.png"), None) or \
                next((cifar_tree / "train" / name).glob("*.png"))
            (private / name / f"{j}.png").write_bytes(src.read_bytes())
    spec = DatasetSpec(name="cifar10", test_dir=str(private))
    d = prepare_data(spec, data_dir=cifar_tree, cache_dir=tmp_path)
    assert len(d.load("test_y")) == 6 and list(np.unique(d.load("test_y"))) == [0, 1, 2]
    assert len(d.load("train_y")) == 300


def test_imagefolder_dataset(cifar_tree, tmp_path):
    spec = DatasetSpec(name="imagefolder", root=str(cifar_tree), image_size=(16, 16), channels=1,
                       mean=(0.5,), std=(0.25,))
    d = prepare_data(spec, data_dir=None, cache_dir=tmp_path)
    assert d.load("train_x").shape == (300, 16, 16, 1)  # resized and converted to grey
    assert d.info.num_classes == 10 and d.info.classes == tuple(sorted(CIFAR10_CLASSES))


@pytest.mark.parametrize("name,must_mention", [
    ("fashion_mnist", "FashionMNIST/raw/train-images-idx3-ubyte"),
    ("cifar10", "cifar-10-python.tar.gz"),
])
def test_missing_data_says_which_files_to_put_where(tmp_path, name, must_mention):
    with pytest.raises(DataNotFound) as info:
        prepare_data(DatasetSpec(name=name), data_dir=tmp_path / "empty", cache_dir=tmp_path,
                     download=False)
    message = str(info.value)
    assert must_mention in message and str(tmp_path / "empty") in message and "--data-dir" in message


def test_validation_split_is_disjoint_seeded_and_sized():
    tr, va = split_validation(1000, 0.1)
    assert len(va) == 100 and len(tr) == 900 and not set(tr) & set(va)
    tr2, va2 = split_validation(1000, 0.1)
    assert (va == va2).all()


def test_missing_data_is_explained_in_the_students_language(tmp_path):
    """The same files and folders, the explanation in Korean under --lang ko."""
    from grader import i18n
    i18n.use("ko")
    with pytest.raises(DataNotFound) as info:
        prepare_data(DatasetSpec(name="cifar10"), data_dir=tmp_path / "empty", cache_dir=tmp_path,
                     download=False)
    message = str(info.value)
    assert "--data-dir" in message and f"{tmp_path / 'empty'}/cifar10-jpeg.tar.gz" in message
    assert "데이터 세트가 디스크에 없고" in message and "내려받기가 꺼져 있음" in message
