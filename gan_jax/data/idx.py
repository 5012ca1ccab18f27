"""MNIST-format idx files (``*-images-idx3-ubyte[.gz]`` + ``*-labels-idx1-ubyte[.gz]``).

Header: two zero bytes, a dtype code (0x08 uint8, 0x09 int8, 0x0B int16,
0x0C int32, 0x0D float32, 0x0E float64), the number of dims, then each dim as
a big-endian uint32; then the data, big-endian, row-major.
"""
from __future__ import annotations

import gzip
import os
import re
import zlib

import numpy as np

from gan_jax.errors import UserError

_DTYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
_IMAGES_RE = re.compile(r"^(.*)images([.-])idx3-ubyte(\.gz)?$")
FASHION_MNIST_DIR = "/usr/share/datasets/fashion-mnist"


def _read_bytes(path: str) -> bytes:
    try:
        with open(path, "rb") as f:
            raw = f.read()
        if raw[:2] == b"\x1f\x8b":
            return gzip.decompress(raw)
        return raw
    except FileNotFoundError:
        raise UserError(f"idx file {path}: not found") from None
    except (OSError, EOFError, zlib.error) as e:
        raise UserError(f"idx file {path}: truncated or corrupt gzip data ({e})") from None


def parse_idx(data: bytes, path: str = "<bytes>") -> np.ndarray:
    """Decode one idx file's bytes into a native-endian array of the header's shape."""
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] not in _DTYPES or data[3] == 0:
        raise UserError(f"idx file {path}: bad magic number {data[:4].hex() or '(empty)'}; "
                        "expected 0000 + a dtype code (08/09/0b/0c/0d/0e) + number of dims")
    ndim = data[3]
    header = 4 + 4 * ndim
    if len(data) < header:
        raise UserError(f"idx file {path}: truncated header ({len(data)} bytes, "
                        f"expected at least {header})")
    dims = tuple(int(d) for d in np.frombuffer(data, ">u4", ndim, 4))
    dtype = np.dtype(_DTYPES[data[2]])
    expected = header + int(np.prod(dims, dtype=np.int64)) * dtype.itemsize
    if len(data) != expected:
        kind = "truncated" if len(data) < expected else "too long"
        raise UserError(f"idx file {path}: {kind}: {len(data)} bytes, expected {expected} "
                        f"for shape {dims}")
    return np.frombuffer(data, dtype, offset=header).reshape(dims).astype(dtype.newbyteorder("="))


def read_idx(path: str) -> np.ndarray:
    """Read an idx file (gzipped or plain)."""
    return parse_idx(_read_bytes(path), path)


def read_images(path: str) -> np.ndarray:
    """idx images file -> uint8 ``[N, H, W, C]`` (3 dims ``[N, H, W]`` get C = 1)."""
    arr = read_idx(path)
    if arr.ndim == 3:
        arr = arr[..., None]
    if arr.ndim != 4 or arr.dtype != np.uint8:
        raise UserError(f"idx file {path}: expected uint8 images of shape [N, H, W] or "
                        f"[N, H, W, C], got {arr.dtype} {arr.shape}")
    return arr


def read_labels(path: str, count: int, images_path: str) -> np.ndarray:
    """idx labels file -> int32 ``[count]``; UserError if its count differs from the images'."""
    arr = read_idx(path)
    if arr.ndim != 1 or arr.dtype.kind not in "iu":
        raise UserError(f"idx file {path}: expected integer labels of shape [N], "
                        f"got {arr.dtype} {arr.shape}")
    if len(arr) != count:
        raise UserError(f"idx file {path}: {len(arr)} labels but {images_path} has "
                        f"{count} images")
    return arr.astype(np.int32)


def _labels_path(images_path: str) -> str | None:
    d, base = os.path.split(images_path)
    m = _IMAGES_RE.match(base)
    if not m:
        return None
    for gz in (m.group(3) or "", ".gz", ""):
        cand = os.path.join(d, f"{m.group(1)}labels{m.group(2)}idx1-ubyte{gz}")
        if os.path.isfile(cand):
            return cand
    return None


def _images_files(directory: str) -> list[str]:
    names = [n for n in os.listdir(directory) if _IMAGES_RE.match(n)]
    # train files first, then the rest (t10k), each group by name
    names.sort(key=lambda n: (not n.startswith("train"), n))
    return [os.path.join(directory, n) for n in names]


def read_idx_dataset(path: str, what: str) -> tuple[np.ndarray, np.ndarray | None]:
    """``path``: a directory of idx image files or one images file.

    Returns images uint8 ``[N, H, W, C]`` and labels int32 ``[N]`` (None unless every
    images file has a matching ``*labels-idx1-ubyte[.gz]`` beside it).
    """
    if os.path.isdir(path):
        files = _images_files(path)
        if not files:
            raise UserError(f"{what}: no '*images-idx3-ubyte[.gz]' files in directory {path}")
    elif os.path.isfile(path):
        files = [path]
    else:
        raise UserError(f"{what}: {path} does not exist; expected an idx images file "
                        "or a directory of them")
    images, labels = [], []
    for f in files:
        imgs = read_images(f)
        if images and imgs.shape[1:] != images[0].shape[1:]:
            raise UserError(f"{what}: {f} has images of shape {imgs.shape[1:]} but "
                            f"{files[0]} has {images[0].shape[1:]}")
        lp = _labels_path(f)
        images.append(imgs)
        labels.append(None if lp is None else read_labels(lp, len(imgs), f))
    all_images = images[0] if len(images) == 1 else np.concatenate(images)
    if any(lab is None for lab in labels):
        return all_images, None
    return all_images, np.concatenate(labels)


def read_fashion_mnist(directory: str = FASHION_MNIST_DIR) -> tuple[np.ndarray, np.ndarray]:
    """Fashion-MNIST train + t10k (70k) from the Debian package's idx files."""
    if not os.path.isdir(directory) or not _images_files(directory):
        raise UserError(f"dataset fashion_mnist: no idx files in {directory}; install them "
                        "with `apt-get install dataset-fashion-mnist`, or use idx:PATH")
    images, labels = read_idx_dataset(directory, "dataset fashion_mnist")
    if labels is None:
        raise UserError(f"dataset fashion_mnist: label files missing in {directory}")
    return images, labels
