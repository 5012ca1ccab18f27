"""One-time conversion of pytorch-fid's InceptionV3 weights to the ``.npz`` that gan_jax loads.

The FID InceptionV3 weights (the TF graph ``inception-2015-12-05`` ported to
PyTorch by pytorch-fid) are not shipped with gan_jax. To get and convert them,
on any machine with PyTorch (torch is needed by this script only)::

    wget https://github.com/mseitzer/pytorch-fid/releases/download/fid_weights/pt_inception-2015-12-05-6726825d.pth
    python -m gan_jax.metrics.convert_inception pt_inception-2015-12-05-6726825d.pth inception_v3_fid.npz

The ``.pth`` is a plain state_dict (``Conv2d_1a_3x3.conv.weight``,
``Mixed_5b.branch1x1.bn.running_mean``, ..., ``fc.weight``). Conv weights go
from torch's OIHW to Flax's HWIO, BatchNorm ``weight/bias/running_mean/
running_var`` become ``scale/bias/mean/var``, ``fc.weight`` is transposed; the
key scheme is documented in :func:`gan_jax.metrics.inception.load_inception`.
The result (~95 MB) is checked against the network's expected keys and shapes
before it is written. Copy it wherever the metrics are computed (no torch needed there).

To verify the numbers against pytorch-fid itself, write the same images as PNG
files to two folders and compare::

    pip install pytorch-fid
    python -m pytorch_fid dirA dirB            # reference FID (uses the same .pth)

with gan_jax's FID on the same images read back from those PNGs (in [-1, 1] as
``x / 127.5 - 1``). They should agree to about 3 significant digits; exact
agreement is not expected, since float32 conv algorithms differ between cuDNN
and XLA (and pytorch-fid runs convs in TF32 on Ampere+ GPUs by default, while
gan_jax uses full float32). Compare PNG-read images on both sides: features
of un-quantised generator outputs differ slightly from those of 8-bit PNGs.
"""
from __future__ import annotations

import argparse
import sys
from typing import Any, Mapping

import numpy as np

from gan_jax.files import atomic_write

BN_RENAMES = {"weight": "scale", "bias": "bias", "running_mean": "mean", "running_var": "var"}
SKIPPED_SUFFIXES = ("num_batches_tracked",)
SKIPPED_PREFIXES = ("AuxLogits.",)  # torchvision's training-only head; the FID weights have none


def _to_numpy(value: Any) -> np.ndarray:
    if hasattr(value, "detach"):  # a torch tensor; no torch import needed
        value = value.detach().cpu().numpy()
    return np.asarray(value, np.float32)


def convert_state_dict(state_dict: Mapping[str, Any]) -> dict[str, np.ndarray]:
    """torch InceptionV3 state_dict (tensors or arrays) -> flat ``.npz`` dict for :func:`load_inception`.

    Works on any torchvision-style module tree (``<scope>.conv.weight``,
    ``<scope>.bn.<stat>``, ``fc.weight/bias``), so a few blocks convert as well
    as the whole network. Unknown keys raise ``ValueError``.
    """
    arrays: dict[str, np.ndarray] = {}
    for name, value in state_dict.items():
        if name.endswith(SKIPPED_SUFFIXES) or name.startswith(SKIPPED_PREFIXES):
            continue
        parts = name.split(".")
        if len(parts) < 2:
            raise ValueError(f"unexpected state_dict key {name!r}: not a BasicConv2d conv/bn or the fc layer")
        *scope, module, leaf = parts
        prefix = "/".join([*scope, module])
        array = _to_numpy(value)
        if module == "conv" and leaf == "weight":
            if array.ndim != 4:
                raise ValueError(f"{name}: expected a 4-d OIHW conv weight, got shape {array.shape}")
            arrays[f"{prefix}/kernel"] = np.ascontiguousarray(array.transpose(2, 3, 1, 0))
        elif module == "bn" and leaf in BN_RENAMES:
            arrays[f"{prefix}/{BN_RENAMES[leaf]}"] = array
        elif module == "fc" and leaf == "weight":
            arrays[f"{prefix}/kernel"] = np.ascontiguousarray(array.T)
        elif module == "fc" and leaf == "bias":
            arrays[f"{prefix}/bias"] = array
        else:
            raise ValueError(f"unexpected state_dict key {name!r}: not a BasicConv2d conv/bn or the fc layer")
    return arrays


def check_arrays(arrays: Mapping[str, np.ndarray], source: str) -> None:
    """Raise ``ValueError`` unless ``arrays`` has exactly the keys and shapes of the FID InceptionV3."""
    from gan_jax.metrics.inception import expected_shapes

    expected = expected_shapes()
    for key, shape in expected.items():
        if key not in arrays:
            raise ValueError(f"{source}: converted weights lack {key!r} (expected shape {shape}); "
                             f"is this pytorch-fid's pt_inception-2015-12-05-6726825d.pth?")
        if arrays[key].shape != shape:
            raise ValueError(f"{source}: {key!r} has shape {arrays[key].shape}, expected {shape}")
    unexpected = sorted(set(arrays) - set(expected))
    if unexpected:
        raise ValueError(f"{source}: unexpected parameters {unexpected[:5]}")


def load_torch_state_dict(path: str) -> Mapping[str, Any]:
    """Read a ``.pth`` state_dict with torch (imported here only)."""
    try:
        import torch
    except ImportError as e:
        raise SystemExit("convert_inception needs PyTorch to read the .pth file (pip install torch); "
                         "the converted .npz is then used without torch") from e
    state_dict = torch.load(path, map_location="cpu", weights_only=True)
    if not isinstance(state_dict, Mapping):
        raise ValueError(f"{path}: expected a state_dict, got {type(state_dict).__name__}")
    return state_dict


def convert_file(pth_path: str, npz_path: str) -> dict[str, np.ndarray]:
    """pytorch-fid ``.pth`` -> checked ``.npz``; returns the arrays written."""
    arrays = convert_state_dict(load_torch_state_dict(pth_path))
    check_arrays(arrays, pth_path)
    with atomic_write(npz_path) as f:  # a file object: np.savez would append .npz to other names
        np.savez(f, **arrays)
    return arrays


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m gan_jax.metrics.convert_inception",
                                     description="Convert pytorch-fid's InceptionV3 weights (.pth) to gan_jax's .npz.")
    parser.add_argument("pth", help="pt_inception-2015-12-05-6726825d.pth from the pytorch-fid release")
    parser.add_argument("out", nargs="?", default="inception_v3_fid.npz", help="output .npz (default: %(default)s)")
    args = parser.parse_args(argv)
    arrays = convert_file(args.pth, args.out)
    total = sum(a.size for a in arrays.values())
    print(f"wrote {args.out}: {len(arrays)} arrays, {total / 1e6:.1f}M parameters")
    return 0


if __name__ == "__main__":
    sys.exit(main())
