"""Tests for pcdash.data: built-in sets, splits, IDX/CIFAR parsing, checksums, downloads."""

from __future__ import annotations

import gzip
import hashlib
import io
import tarfile
import urllib.error
from pathlib import Path

import numpy as np
import pytest
from idx_files import write_idx_set

import pcdash.data as data
from pcdash.data import (
    DATASETS,
    DataError,
    dataset_available,
    describe,
    download,
    load_dataset,
    sources,
)
from pcdash.data.cifar import RECORD_BYTES, TEST_MEMBER, TRAIN_MEMBERS, read_cifar10_tar
from pcdash.data.idx import encode_idx, read_idx, write_idx
from pcdash.data.splits import stratified_split

MNIST_FILES = sources.SOURCES["mnist"].files


def _no_network(url, out):
    raise urllib.error.URLError("network disabled in tests")


@pytest.fixture(autouse=True)
def _isolated(tmp_path, monkeypatch):
    """Point the data dir at tmp_path, forbid the network, and start with empty caches."""
    monkeypatch.setenv("PCDASH_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setattr(download, "fetch_url", _no_network)
    data.clear_cache()
    yield
    data.clear_cache()


def _sha(path_or_bytes) -> str:
    raw = path_or_bytes if isinstance(path_or_bytes, bytes) else Path(path_or_bytes).read_bytes()
    return hashlib.sha256(raw).hexdigest()


def _mnist_arrays(n_train=60, n_test=20, seed=1):
    rng = np.random.default_rng(seed)
    return {
        "train-images-idx3-ubyte.gz": rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
        "train-labels-idx1-ubyte.gz": (np.arange(n_train) % 10).astype(np.uint8),
        "t10k-images-idx3-ubyte.gz": rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
        "t10k-labels-idx1-ubyte.gz": (np.arange(n_test) % 10).astype(np.uint8),
    }


def _write_mnist(folder: Path, monkeypatch, name="mnist", arrays=None):
    """Write small MNIST-like files into folder and make the checksum table trust them."""
    return write_idx_set(folder, monkeypatch, name, arrays or _mnist_arrays())


def _idx_gz_bytes(array) -> bytes:
    buffer = io.BytesIO()
    with gzip.GzipFile(fileobj=buffer, mode="wb", mtime=0) as gz:
        gz.write(encode_idx(array))
    return buffer.getvalue()


# --- built-in sets and splits -------------------------------------------------------------


def test_digits_shapes_dtypes_ranges():
    ds = load_dataset("digits")
    assert ds.input_shape == (8, 8, 1) and ds.input_dim == 64 and ds.is_image
    assert ds.num_classes == 10 and ds.class_names == tuple("0123456789")
    total = len(ds.y_train) + len(ds.y_val) + len(ds.y_test)
    assert total == 1797
    assert len(ds.y_test) == round(0.2 * 1797)
    assert len(ds.y_val) == round(0.1 * (1797 - len(ds.y_test)))
    for split in ("train", "val", "test"):
        x, y = ds.split(split)
        assert x.dtype == np.float32 and y.dtype == np.int32
        assert x.shape == (len(y), 8, 8, 1)
        assert x.min() >= -1.0 and x.max() <= 1.0
        assert not x.flags.writeable and not y.flags.writeable
        assert set(np.unique(y)) == set(range(10))  # stratified: every class everywhere
    assert ds.x_train.min() == -1.0 and ds.x_train.max() == 1.0
    with pytest.raises(DataError, match="train, val, test"):
        ds.split("bogus")


def test_digits_seeded_splits_and_fixed_test():
    a = load_dataset("digits", seed=0)
    assert load_dataset("digits", seed=0) is a  # cached
    data.clear_cache()
    b = load_dataset("digits", seed=0)
    assert np.array_equal(a.x_val, b.x_val) and np.array_equal(a.y_train, b.y_train)
    c = load_dataset("digits", seed=1)
    assert a.x_val.shape == c.x_val.shape and not np.array_equal(a.x_val, c.x_val)
    for other in (c, load_dataset("digits", seed=7, val_fraction=0.3)):
        assert np.array_equal(a.x_test, other.x_test)
        assert np.array_equal(a.y_test, other.y_test)


def test_stratified_split_partitions_and_stratifies():
    y = np.repeat(np.arange(5), [10, 20, 30, 40, 100])
    keep, held = stratified_split(y, 0.25, seed=3)
    assert len(held) == 50 and len(keep) == 150
    assert np.intersect1d(keep, held).size == 0
    assert np.array_equal(np.sort(np.concatenate([keep, held])), np.arange(len(y)))
    assert np.all(np.abs(np.bincount(y[held]) - np.bincount(y) * 0.25) < 1)
    again, held_again = stratified_split(y, 0.25, seed=3)
    assert np.array_equal(held, held_again) and np.array_equal(keep, again)
    assert not np.array_equal(held, stratified_split(y, 0.25, seed=4)[1])
    keep0, held0 = stratified_split(y, 0.0, seed=0)
    assert held0.size == 0 and np.array_equal(keep0, np.arange(len(y)))


def test_val_fraction_zero_gives_empty_val_with_shape():
    ds = load_dataset("digits", val_fraction=0.0)
    assert ds.x_val.shape == (0, 8, 8, 1) and ds.x_val.dtype == np.float32
    assert ds.y_val.shape == (0,) and ds.y_val.dtype == np.int32
    toy = load_dataset("moons", val_fraction=0)
    assert toy.x_val.shape == (0, 2)


@pytest.mark.parametrize("bad", [0.5, -0.1, 1.0, float("nan"), "0.1", None, True])
def test_bad_val_fraction_rejected(bad):
    with pytest.raises(DataError, match="val_fraction"):
        load_dataset("digits", val_fraction=bad)


@pytest.mark.parametrize("kwargs", [{"seed": -1}, {"seed": 1.5}, {"n_samples": 3}, {"noise": -0.1}])
def test_bad_arguments_rejected(kwargs):
    with pytest.raises(DataError):
        load_dataset("moons", **kwargs)


@pytest.mark.parametrize("name", ["moons", "circles"])
def test_toy_sets(name):
    ds = load_dataset(name, seed=0)
    assert ds.input_shape == (2,) and ds.input_dim == 2 and not ds.is_image
    assert ds.num_classes == 2 and len(ds.class_names) == 2
    n = len(ds.y_train) + len(ds.y_val) + len(ds.y_test)
    assert n == 2000 and len(ds.y_test) == 400
    assert ds.x_train.dtype == np.float32 and ds.x_train.shape[1:] == (2,)
    pool = np.concatenate([ds.x_train, ds.x_val])
    np.testing.assert_allclose(pool.mean(axis=0), 0.0, atol=1e-5)
    np.testing.assert_allclose(pool.std(axis=0), 1.0, atol=1e-4)
    rows = {tuple(r) for r in np.concatenate([pool, ds.x_test]).tolist()}
    assert len(rows) == n  # train, val and test are disjoint
    other = load_dataset(name, seed=5)
    assert np.array_equal(ds.x_test, other.x_test)
    assert not np.array_equal(ds.x_val, other.x_val)
    small = load_dataset(name, n_samples=100, noise=0.3)
    assert len(small.y_train) + len(small.y_val) + len(small.y_test) == 100


def test_unknown_names_rejected():
    for call in (
        lambda: load_dataset("imagenet"),
        lambda: dataset_available("imagenet"),
        lambda: describe("imagenet"),
    ):
        with pytest.raises(DataError) as info:
            call()
        for valid in DATASETS:
            assert valid in str(info.value)


def test_describe_and_availability_without_files(tmp_path):
    for name in DATASETS:
        text = describe(name)
        assert text and "\n" not in text
    assert dataset_available("digits") and dataset_available("moons")
    assert not dataset_available("mnist") and not dataset_available("cifar10", tmp_path)


def test_data_dir_follows_env(tmp_path, monkeypatch):
    monkeypatch.setenv("PCDASH_DATA_DIR", str(tmp_path / "elsewhere"))
    assert data.data_dir() == (tmp_path / "elsewhere").resolve()
    monkeypatch.delenv("PCDASH_DATA_DIR")
    assert data.data_dir() == (Path.home() / ".cache" / "pcdash" / "data").resolve()


# --- IDX ----------------------------------------------------------------------------------


@pytest.mark.parametrize("suffix", [".gz", ""])
@pytest.mark.parametrize(
    "array",
    [
        np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4),
        np.array([1, -2, 70000], dtype=np.int32),
        np.linspace(-1, 1, 6, dtype=np.float32).reshape(3, 2),
    ],
)
def test_idx_round_trip(tmp_path, array, suffix):
    path = write_idx(tmp_path / f"a.idx{suffix}", array)
    back = read_idx(path)
    assert back.dtype == array.dtype and np.array_equal(back, array)


@pytest.mark.parametrize("suffix", [".gz", ""])
def test_truncated_idx_rejected(tmp_path, suffix):
    raw = encode_idx(np.zeros((5, 28, 28), np.uint8))
    path = tmp_path / f"t.idx{suffix}"
    path.write_bytes(raw[:-100])
    if suffix:
        path.write_bytes(gzip.compress(raw[:-100]))
    with pytest.raises(DataError, match="truncated"):
        read_idx(path)
    cut_gzip = tmp_path / "cut.gz"
    cut_gzip.write_bytes(gzip.compress(raw)[:-30])
    with pytest.raises(DataError):
        read_idx(cut_gzip)


def test_bad_idx_rejected(tmp_path):
    bad_magic = tmp_path / "bad"
    bad_magic.write_bytes(b"\x12\x34\x08\x01" + b"\x00" * 8)
    with pytest.raises(DataError, match="magic"):
        read_idx(bad_magic)
    trailing = tmp_path / "trailing"
    trailing.write_bytes(encode_idx(np.zeros(4, np.uint8)) + b"x")
    with pytest.raises(DataError, match="extra bytes"):
        read_idx(trailing)


# --- MNIST-like sets from files -------------------------------------------------------------


@pytest.mark.parametrize("name", ["mnist", "fashion_mnist"])
def test_mnist_like_loads_from_files(tmp_path, monkeypatch, name):
    root = tmp_path / "data"
    arrays = _write_mnist(root / name, monkeypatch, name)
    assert dataset_available(name)
    ds = load_dataset(name, val_fraction=0.2, seed=3)
    assert ds.input_shape == (28, 28, 1) and ds.input_dim == 784 and ds.num_classes == 10
    assert ds.x_train.shape == (48, 28, 28, 1) and ds.x_val.shape == (12, 28, 28, 1)
    assert ds.x_test.dtype == np.float32 and ds.y_test.dtype == np.int32
    expected_test = arrays["t10k-images-idx3-ubyte.gz"][..., None] / 127.5 - 1.0
    np.testing.assert_allclose(ds.x_test, expected_test, atol=1e-6)
    assert np.array_equal(ds.y_test, arrays["t10k-labels-idx1-ubyte.gz"])
    assert set(np.bincount(ds.y_val, minlength=10).tolist()) <= {1, 2}  # stratified
    pool = np.rint((np.concatenate([ds.x_train, ds.x_val]) + 1.0) * 127.5).astype(np.uint8)
    source = arrays["train-images-idx3-ubyte.gz"]
    assert {r.tobytes() for r in pool} == {r.tobytes() for r in source}  # train+val = train
    # The same directory, given explicitly, also works.
    data.clear_cache()
    monkeypatch.setenv("PCDASH_DATA_DIR", str(tmp_path / "nowhere"))
    assert load_dataset(name, data_dir=root, val_fraction=0.2, seed=3).x_train.shape[0] == 48


def test_wrong_checksum_rejected(tmp_path, monkeypatch):
    _write_mnist(tmp_path / "data" / "mnist", monkeypatch)
    wrong = "0" * 64
    monkeypatch.setitem(sources.CHECKSUMS["mnist"], "train-labels-idx1-ubyte.gz", wrong)
    with pytest.raises(DataError) as info:
        load_dataset("mnist")
    message = str(info.value)
    assert "train-labels-idx1-ubyte.gz" in message and wrong in message
    assert _sha(tmp_path / "data" / "mnist" / "train-labels-idx1-ubyte.gz") in message


def test_inconsistent_files_rejected(tmp_path, monkeypatch):
    arrays = _mnist_arrays()
    arrays["train-labels-idx1-ubyte.gz"] = arrays["train-labels-idx1-ubyte.gz"][:-1]
    _write_mnist(tmp_path / "data" / "mnist", monkeypatch, arrays=arrays)
    with pytest.raises(DataError, match="labels"):
        load_dataset("mnist")


def test_offline_missing_names_files_checksums_and_directory(tmp_path, monkeypatch):
    calls = []

    def offline(url, out):
        calls.append(url)
        raise urllib.error.URLError("no network")

    monkeypatch.setattr(download, "fetch_url", offline)
    with pytest.raises(DataError) as info:
        load_dataset("mnist")
    message = str(info.value)
    folder = (tmp_path / "data" / "mnist").resolve()
    assert str(folder) in message and "PCDASH_DATA_DIR" in message
    for file_name in MNIST_FILES:
        assert file_name in message
        assert sources.CHECKSUMS["mnist"][file_name] in message
    # Once every mirror failed for one file, the others are not tried.
    assert len(calls) == len(sources.SOURCES["mnist"].mirrors)
    assert not folder.exists()


def test_download_through_fetcher_writes_verified_files(tmp_path, monkeypatch):
    arrays = _mnist_arrays()
    payloads = {name: _idx_gz_bytes(array) for name, array in arrays.items()}
    monkeypatch.setitem(sources.CHECKSUMS, "mnist", {n: _sha(b) for n, b in payloads.items()})
    urls = []

    def fake_fetch(url, out):
        urls.append(url)
        out.write(payloads[url.rsplit("/", 1)[1]])

    monkeypatch.setattr(download, "fetch_url", fake_fetch)
    ds = load_dataset("mnist", val_fraction=0.0)
    assert ds.x_train.shape == (60, 28, 28, 1) and ds.x_test.shape == (20, 28, 28, 1)
    assert all(url.startswith(sources.SOURCES["mnist"].mirrors[0]) for url in urls)
    folder = tmp_path / "data" / "mnist"
    assert sorted(p.name for p in folder.iterdir()) == sorted(MNIST_FILES)
    assert all(_sha(folder / n) == _sha(b) for n, b in payloads.items())
    assert dataset_available("mnist")


def test_failed_download_leaves_no_partial_file(tmp_path, monkeypatch):
    arrays = _mnist_arrays()
    payloads = {name: _idx_gz_bytes(array) for name, array in arrays.items()}
    monkeypatch.setitem(sources.CHECKSUMS, "mnist", {n: _sha(b) for n, b in payloads.items()})
    folder = tmp_path / "data" / "mnist"
    folder.mkdir(parents=True)

    def broken_fetch(url, out):
        body = payloads[url.rsplit("/", 1)[1]]
        out.write(body[: len(body) // 2])
        out.flush()
        raise ConnectionResetError("connection dropped mid-way")

    monkeypatch.setattr(download, "fetch_url", broken_fetch)
    with pytest.raises(DataError, match="connection dropped"):
        load_dataset("mnist")
    assert list(folder.iterdir()) == []

    def corrupt_fetch(url, out):
        out.write(b"not the file")

    monkeypatch.setattr(download, "fetch_url", corrupt_fetch)
    with pytest.raises(DataError) as info:
        load_dataset("mnist")
    assert sources.CHECKSUMS["mnist"]["train-images-idx3-ubyte.gz"] in str(info.value)
    assert list(folder.iterdir()) == []


# --- CIFAR-10 binary ----------------------------------------------------------------------


def _cifar_batch(rng, n):
    images = rng.integers(0, 256, (n, 32, 32, 3), dtype=np.uint8)
    labels = rng.integers(0, 10, n, dtype=np.uint8)
    planes = images.transpose(0, 3, 1, 2).reshape(n, -1)  # R, G, B planes per record
    return images, labels, np.concatenate([labels[:, None], planes], axis=1).tobytes()


def _write_cifar_tar(path: Path, members: dict[str, bytes], symlink: str | None = None):
    with tarfile.open(path, "w:gz") as tar:
        for name, body in members.items():
            info = tarfile.TarInfo(name)
            if name == symlink:
                info.type, info.linkname = tarfile.SYMTYPE, "/etc/passwd"
                tar.addfile(info)
                continue
            info.size = len(body)
            tar.addfile(info, io.BytesIO(body))


def test_cifar_binary_tar_read(tmp_path, monkeypatch):
    rng = np.random.default_rng(0)
    batches = {name: _cifar_batch(rng, 4) for name in (*TRAIN_MEMBERS, TEST_MEMBER)}
    folder = tmp_path / "data" / "cifar10"
    folder.mkdir(parents=True)
    archive = folder / "cifar-10-binary.tar.gz"
    members = {"cifar-10-batches-bin/batches.meta.txt": b"airplane\n"}
    members |= {name: body for name, (_, _, body) in batches.items()}
    _write_cifar_tar(archive, members)

    x_train, y_train, x_test, y_test = read_cifar10_tar(archive)
    assert x_train.shape == (20, 32, 32, 3) and x_test.shape == (4, 32, 32, 3)
    assert np.array_equal(x_train, np.concatenate([batches[n][0] for n in TRAIN_MEMBERS]))
    assert np.array_equal(y_test, batches[TEST_MEMBER][1])

    monkeypatch.setitem(sources.CHECKSUMS, "cifar10", {archive.name: _sha(archive)})
    ds = load_dataset("cifar10", val_fraction=0.0)
    assert ds.input_shape == (32, 32, 3) and ds.input_dim == 3072
    assert ds.class_names[0] == "airplane" and ds.num_classes == 10
    np.testing.assert_allclose(ds.x_test, batches[TEST_MEMBER][0] / 127.5 - 1.0, atol=1e-6)


def test_cifar_bad_archives_rejected(tmp_path):
    rng = np.random.default_rng(0)
    bodies = {name: _cifar_batch(rng, 2)[2] for name in (*TRAIN_MEMBERS, TEST_MEMBER)}

    missing = tmp_path / "missing.tar.gz"
    _write_cifar_tar(missing, {n: b for n, b in bodies.items() if n != TEST_MEMBER})
    with pytest.raises(DataError, match="test_batch.bin"):
        read_cifar10_tar(missing)

    link = tmp_path / "link.tar.gz"
    _write_cifar_tar(link, bodies, symlink=TRAIN_MEMBERS[0])
    with pytest.raises(DataError, match="regular"):
        read_cifar10_tar(link)

    ragged = tmp_path / "ragged.tar.gz"
    _write_cifar_tar(ragged, {**bodies, TEST_MEMBER: bodies[TEST_MEMBER][: RECORD_BYTES + 7]})
    with pytest.raises(DataError, match="record"):
        read_cifar10_tar(ragged)

    truncated = tmp_path / "truncated.tar.gz"
    full = tmp_path / "full.tar.gz"
    _write_cifar_tar(full, bodies)
    truncated.write_bytes(full.read_bytes()[: full.stat().st_size // 2])
    with pytest.raises(DataError):
        read_cifar10_tar(truncated)


def test_no_pickle_in_data_layer():
    package = Path(data.__file__).parent
    for path in package.glob("*.py"):
        text = path.read_text()
        for banned in ("import pickle", "allow_pickle", "np.load(", "extractall"):
            assert banned not in text, f"{banned!r} in {path.name}"


def test_data_error_is_a_user_facing_value_error():
    from pcdash.errors import PcdashError

    assert issubclass(DataError, PcdashError) and issubclass(DataError, ValueError)
