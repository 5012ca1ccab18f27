"""Images of any size through a fixed-size function, in overlapping tiles blended smoothly.

:func:`tiled` runs a fixed number of tiles per call, so memory stays bounded; the tiles are
blended with weights that ramp linearly across the overlaps.
"""
from __future__ import annotations

import numpy as np


def _starts(size: int, tile: int, step: int) -> list[int]:
    starts = list(range(0, max(size - tile, 0) + 1, step))
    if starts[-1] + tile < size:
        starts.append(size - tile)
    return starts


def _ramp(n: int, overlap: int) -> np.ndarray:
    """1-D blending weights [n]: rising linearly over ``overlap`` px at both ends, 1 inside."""
    i = np.arange(n, dtype=np.float32)
    return np.minimum(1.0, (np.minimum(i, n - 1 - i) + 1.0) / (overlap + 1.0))


def tiled(fn, image: np.ndarray, tile: int, overlap: int, scale: int = 1, chunk: int = 16) -> np.ndarray:
    """``fn`` (tiles [n, tile, tile, C_in] -> [n, scale*tile, scale*tile, C]) over ``image``
    [H, W, C_in] in overlapping tiles -> [scale*H, scale*W, C].

    An image smaller than a tile is reflect-padded to one tile (the padding is cropped
    off again); at most ``chunk`` tiles are in flight at once.
    """
    if not 0 <= overlap < tile:
        raise ValueError(f"tiled: overlap {overlap} must be in [0, tile={tile})")
    h, w = image.shape[:2]
    ph, pw = max(tile - h, 0), max(tile - w, 0)
    if ph or pw:
        image = np.pad(image, ((0, ph), (0, pw), (0, 0)), mode="reflect" if min(h, w) > 1 else "edge")
    hp, wp = image.shape[:2]
    corners = [(y, x) for y in _starts(hp, tile, tile - overlap) for x in _starts(wp, tile, tile - overlap)]
    weight = np.outer(_ramp(tile * scale, overlap * scale), _ramp(tile * scale, overlap * scale))[..., None]
    out, total = None, np.zeros((hp * scale, wp * scale, 1), np.float32)
    for i in range(0, len(corners), chunk):
        part = corners[i:i + chunk]
        results = np.asarray(fn(np.stack([image[y:y + tile, x:x + tile] for y, x in part])))
        if out is None:
            out = np.zeros((hp * scale, wp * scale, results.shape[-1]), np.float32)
        for (y, x), res in zip(part, results):
            ys, xs = slice(y * scale, (y + tile) * scale), slice(x * scale, (x + tile) * scale)
            out[ys, xs] += res * weight
            total[ys, xs] += weight
    return (out / total)[:h * scale, :w * scale]
