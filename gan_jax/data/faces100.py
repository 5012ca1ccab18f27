"""``faces100``: the 100 face crops shipped with scikit-image (``skimage.data.lfw_subset()``:
25 x 25 greyscale, the first 100 of its 200 images are faces, the rest are not), the 100-shot
regime of the DiffAugment and ADA papers. Read with numpy from the installed package's
``data/lfw_subset.npy``; scikit-image itself is never imported."""
from __future__ import annotations

import importlib.util
import os

import numpy as np

from gan_jax.errors import UserError

NUM_FACES = 100


def lfw_subset_path() -> str:
    """Path of ``lfw_subset.npy`` inside the installed scikit-image package."""
    spec = importlib.util.find_spec("skimage")
    for d in list(spec.submodule_search_locations or []) if spec else []:
        path = os.path.join(d, "data", "lfw_subset.npy")
        if os.path.isfile(path):
            return path
    raise UserError("dataset faces100: skimage/data/lfw_subset.npy not found; expected scikit-image to be "
                    "installed (pip install scikit-image)")


def read_faces100(path: str | None = None) -> np.ndarray:
    """The 100 faces, uint8 ``[100, 25, 25, 1]``."""
    path = path or lfw_subset_path()
    try:
        faces = np.load(path)[:NUM_FACES]
    except (OSError, ValueError) as e:
        raise UserError(f"dataset faces100: cannot read {path}: {e}") from None
    if faces.shape != (NUM_FACES, 25, 25):
        raise UserError(f"dataset faces100: expected {NUM_FACES} images 25 x 25 in {path}, got {faces.shape}")
    return np.round(np.clip(faces, 0.0, 1.0) * 255.0).astype(np.uint8)[..., None]
