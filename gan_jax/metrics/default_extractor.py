"""The default feature extractor of a dataset: its domain classifier, trained on first use and cached.

``gan-jax evaluate --workdir DIR`` with no ``--extractor`` (and no ``eval_extractor`` in
the run's config) evaluates in the features of the default extractor of the run's dataset:
the small CNN of :mod:`gan_jax.metrics.classifier` trained on that dataset's labelled images
with the recipe :data:`RECIPE`. The first use trains it (a progress bar; about a minute on
two CPU cores for MNIST-5k) and caches it; later runs load it::

    $GAN_JAX_CACHE/extractors/<dataset>-<fingerprint>/   (default ~/.cache/gan_jax; or
                                                          $XDG_CACHE_HOME/gan_jax)
        params.msgpack, info.json     the classifier (gan-jax train-classifier's layout:
                                      ``--extractor classifier:THAT_DIR`` names it too)
        default.json                  dataset, recipe, code fingerprint, sha256 of the weights

The fingerprint hashes the classifier's code (this file and ``classifier.py``) and the
recipe, so a change to either trains a new one under a new name. The cache entry is
written into a temporary directory and renamed into place: a reader never sees half of
one, and a failed or interrupted training leaves nothing behind. An entry that does not
load or whose weights do not match their recorded hash is removed with a warning and
rebuilt.

Which datasets have one (:func:`default_for`):

* ``mnist5k`` and ``fashion_mnist`` (``:train``/``:test`` too): a classifier of 28 x 28
  greyscale images (MNIST-5k: all 5,000 digits; Fashion-MNIST: its 60,000 training images).
  A run of another image size has no default extractor (one-line error).
* any other labelled dataset (``idx:PATH`` with label files, ``folder:PATH`` with one
  sub-folder per class, ``tfds:NAME`` with a ``label`` ClassLabel): a classifier trained on
  it at the run's image size, keyed by the spec and that size.
* a dataset without labels (``photos``, a folder without class sub-folders, ...) has none.

Names: the extractor is reported as ``classifier:<dataset>-default-<fingerprint[:8]>``,
so every number says which weights it came from.
"""
from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import os
import re
import secrets
import shutil
import sys
import time
from typing import Callable

from gan_jax.errors import UserError

RECIPE = {"steps": 600, "batch_size": 64, "seed": 0, "holdout": 0.1}
"""How a default extractor is trained (:func:`gan_jax.metrics.classifier.train_classifier`):
600 Adam steps of 64 images (the cost is per image seen). On MNIST-5k this gives 0.974
held-out accuracy, as 500 steps of 128 do (``gan-jax train-classifier``'s 1,500 steps of
128: 0.978; 300 of 128: 0.962), in an eighth of ``train-classifier``'s time."""

CACHE_FILE = "default.json"
_TMP = ".tmp-"
_STALE_TMP_S = 24 * 3600


@dataclasses.dataclass(frozen=True)
class DefaultSpec:
    """How a dataset's default extractor is made: ``key`` (its cache name), ``train_on`` (the
    dataset spec trained on) and ``image_shape`` (H, W, C) it takes."""

    key: str
    train_on: str
    image_shape: tuple[int, int, int]


BUILTIN = {
    "mnist5k": DefaultSpec("mnist5k", "mnist5k", (28, 28, 1)),
    "fashion_mnist": DefaultSpec("fashion_mnist", "fashion_mnist:train", (28, 28, 1)),
}
"""Datasets shipped with a loader of their own: their default extractor has their native image size."""

_UNLABELLED_KINDS = ("photos",)


def cache_root() -> str:
    """``$GAN_JAX_CACHE``, else ``$XDG_CACHE_HOME/gan_jax``, else ``~/.cache/gan_jax``."""
    root = os.environ.get("GAN_JAX_CACHE")
    if root:
        return os.path.expanduser(root)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "gan_jax")


def code_fingerprint(recipe: dict | None = None) -> str:
    """sha256 (16 hex digits) of the classifier's code and the training recipe."""
    from gan_jax.metrics import classifier

    h = hashlib.sha256()
    for path in (classifier.__file__, __file__):
        with open(path, "rb") as f:
            h.update(f.read())
    h.update(json.dumps(recipe or RECIPE, sort_keys=True).encode())
    return h.hexdigest()[:16]


def _no_default(dataset: str, why: str) -> UserError:
    return UserError(f"dataset {dataset}: no default extractor ({why}); pass --extractor classifier:DIR "
                     f"(gan-jax train-classifier --dataset SPEC --out DIR, on labelled images) or "
                     f"inception:FILE.npz")


def default_for(config) -> DefaultSpec:
    """The default extractor of ``config.dataset`` for ``config``'s images; UserError if there is none.

    Checks only what is cheap to check (no training, nothing written): the dataset has a
    default extractor, and it takes the run's image size."""
    dataset = str(config.dataset)
    shape = (config.resolution, config.resolution, config.channels)
    kind, sep, rest = dataset.partition(":")
    builtin = BUILTIN.get(kind) if (not sep or (kind == "fashion_mnist" and rest in ("train", "test"))) else None
    if builtin is not None:
        if tuple(builtin.image_shape) != shape:
            h, w, c = builtin.image_shape
            raise UserError(
                f"dataset {dataset}: its default extractor takes {h}x{w}x{c} images, but this run's model makes "
                f"{shape[0]}x{shape[1]}x{shape[2]}; pass --extractor classifier:DIR (gan-jax train-classifier "
                f"--dataset {builtin.train_on} --resolution {shape[0]} --channels {shape[2]} --out DIR)")
        return builtin
    if kind in _UNLABELLED_KINDS:
        raise _no_default(dataset, "its images have no labels to train a domain classifier on")
    if not sep or not rest:
        raise _no_default(dataset, "not a dataset spec the library knows")
    # A user's labelled dataset: trained at the run's image size, keyed by the spec (path made absolute).
    where = os.path.abspath(os.path.expanduser(rest)) if kind in ("idx", "folder") else rest
    if kind == "tfds":
        where += f"@{config.tfds_data_dir or ''}"
    label = re.sub(r"[^A-Za-z0-9_.-]+", "_", f"{kind}-{os.path.basename(where.rstrip('/')) or 'data'}")[:40]
    digest = hashlib.sha256(f"{kind}:{where}".encode()).hexdigest()[:8]
    return DefaultSpec(f"{label}-{digest}-{shape[0]}x{shape[1]}x{shape[2]}", dataset, shape)


def _warn(msg: str) -> None:
    print(f"gan-jax: warning: {msg}", file=sys.stderr, flush=True)


def _sha256(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _load_entry(directory: str, spec: DefaultSpec, fingerprint: str):
    """The classifier cached in ``directory``; ValueError (with the reason) if it is damaged."""
    from gan_jax.metrics.classifier import Classifier

    try:
        with open(os.path.join(directory, CACHE_FILE)) as f:
            meta = json.load(f)
    except (OSError, ValueError) as e:
        raise ValueError(f"{CACHE_FILE} unreadable: {type(e).__name__}") from None
    if not isinstance(meta, dict) or meta.get("fingerprint") != fingerprint or meta.get("key") != spec.key:
        raise ValueError(f"{CACHE_FILE} does not describe this extractor")
    params = os.path.join(directory, "params.msgpack")
    try:
        digest = _sha256(params)
    except OSError as e:
        raise ValueError(f"params.msgpack unreadable: {e.strerror or e}") from None
    if digest != meta.get("params_sha256"):
        raise ValueError("params.msgpack does not match its recorded sha256")
    try:
        clf = Classifier.load(directory)
    except (UserError, OSError, ValueError, KeyError, TypeError) as e:
        raise ValueError(str(e).split("\n")[0]) from None
    if tuple(clf.info.get("image_shape", ())) != tuple(spec.image_shape):
        raise ValueError(f"image shape {clf.info.get('image_shape')}, expected {list(spec.image_shape)}")
    return clf


def _remove(directory: str) -> None:
    """Move ``directory`` aside (one rename: readers no longer find it), then delete it."""
    parent = os.path.dirname(directory)
    trash = os.path.join(parent, f"{_TMP}removed-{secrets.token_hex(4)}")
    try:
        os.rename(directory, trash)
    except OSError:
        trash = directory
    if os.path.isdir(trash) and not os.path.islink(trash):
        shutil.rmtree(trash, ignore_errors=True)
    else:
        with contextlib.suppress(OSError):
            os.remove(trash)


def _sweep_stale(parent: str) -> None:
    """Remove temporary directories a killed process left (older than a day)."""
    with contextlib.suppress(OSError):
        for name in os.listdir(parent):
            path = os.path.join(parent, name)
            if name.startswith(_TMP) and time.time() - os.path.getmtime(path) > _STALE_TMP_S:
                shutil.rmtree(path, ignore_errors=True)


def _train_into(directory: str, spec: DefaultSpec, config, fingerprint: str, recipe: dict, name: str,
                progress: bool, log: Callable[[str], None]):
    """Train the classifier of ``spec`` and write it to ``directory`` (atomically: a temporary
    directory beside it, renamed into place). Returns the classifier."""
    import numpy as np

    from gan_jax import data
    from gan_jax.metrics.classifier import train_classifier

    h, _, c = spec.image_shape
    source = data.load_source(spec.train_on, resolution=h, channels=c,
                              tfds_data_dir=getattr(config, "tfds_data_dir", "") or None)
    if source.labels is None or not source.num_classes:
        raise _no_default(str(config.dataset), "its images have no labels to train a domain classifier on")
    from gan_jax.files import check_output_dir

    parent = os.path.dirname(directory)
    check_output_dir(parent, "extractor cache (GAN_JAX_CACHE)")  # before the training, not after
    log(f"training the default extractor of {config.dataset} on {len(source)} images "
        f"({recipe['steps']} steps, first use only; cached in {directory})")
    images, labels = source.get(np.arange(len(source)))
    clf = train_classifier(data.to_float(images), labels, num_classes=source.num_classes, steps=recipe["steps"],
                           batch_size=recipe["batch_size"], seed=recipe["seed"], holdout=recipe["holdout"],
                           name=name, progress=progress)
    clf.info["default_extractor"] = {"dataset": spec.train_on, "fingerprint": fingerprint, "recipe": recipe}
    try:
        os.makedirs(parent, exist_ok=True)
    except OSError as e:
        raise UserError(f"extractor cache {parent}: cannot create it ({e.strerror or e}); "
                        f"set GAN_JAX_CACHE to a writable directory") from None
    _sweep_stale(parent)
    tmp = os.path.join(parent, f"{_TMP}{spec.key}-{secrets.token_hex(4)}")
    try:
        clf.save(tmp)
        meta = {"key": spec.key, "dataset": spec.train_on, "image_shape": list(spec.image_shape),
                "fingerprint": fingerprint, "recipe": recipe, "name": name,
                "holdout_accuracy": clf.info.get("holdout_accuracy"),
                "params_sha256": _sha256(os.path.join(tmp, "params.msgpack"))}
        with open(os.path.join(tmp, CACHE_FILE), "w") as f:
            json.dump(meta, f, indent=2)
            f.flush()
            os.fsync(f.fileno())
        try:
            os.rename(tmp, directory)
        except OSError:
            if not os.path.isdir(directory):
                raise
            # Another process cached the same extractor first: use its copy, drop ours.
            with contextlib.suppress(ValueError):
                return _load_entry(directory, spec, fingerprint)
            raise
    except OSError as e:
        raise UserError(f"extractor cache {parent}: cannot write the trained extractor ({e.strerror or e}); "
                        f"set GAN_JAX_CACHE to a writable directory") from None
    finally:
        if os.path.isdir(tmp):
            shutil.rmtree(tmp, ignore_errors=True)
    return clf


def default_extractor(config, *, progress: bool = True, cache_dir: str | None = None, steps: int | None = None,
                      log: Callable[[str], None] | None = None):
    """The default extractor of ``config``'s dataset and image size: ``(extractor, directory)``.

    Loads it from the cache (``cache_dir``, default ``cache_root()/extractors``), or trains it
    first (``progress``: a progress bar) and caches it. ``steps`` overrides the recipe's step
    count (tests; it changes the fingerprint, so it is cached apart). ``directory`` also works
    as ``--extractor classifier:DIRECTORY``.

    UserError (nothing trained or written) if the dataset has no default extractor or its
    extractor takes another image size; a damaged cache entry is rebuilt with a warning.
    """
    from gan_jax.metrics.extractors import classifier_extractor

    log = log or (lambda msg: print(f"gan-jax: {msg}", file=sys.stderr, flush=True))
    spec = default_for(config)
    recipe = dict(RECIPE, **({"steps": int(steps)} if steps is not None else {}))
    if recipe["steps"] <= 0:
        raise ValueError(f"steps={steps}: expected a positive number of training steps")
    fingerprint = code_fingerprint(recipe)
    directory = os.path.join(cache_dir or os.path.join(cache_root(), "extractors"), f"{spec.key}-{fingerprint}")
    name = f"{spec.key}-default-{fingerprint[:8]}"
    clf = None
    if os.path.exists(directory):
        try:
            clf = _load_entry(directory, spec, fingerprint)
        except ValueError as e:
            _warn(f"cached default extractor {directory} is damaged ({e}); removing and rebuilding it")
            _remove(directory)
    if clf is None:
        clf = _train_into(directory, spec, config, fingerprint, recipe, name, progress, log)
    return classifier_extractor(clf, directory), directory


def resolve_extractor(spec: str | None, config, *, progress: bool = True):
    """``(extractor, spec)`` for an ``--extractor`` value: ``classifier:DIR`` / ``inception:FILE``
    load as given; empty, None or ``default`` is the default extractor of ``config``'s dataset
    (its spec then names the cached directory: ``classifier:DIR``)."""
    from gan_jax.metrics.extractors import check_extractor, load_extractor

    if spec and spec != "default":
        extractor = load_extractor(spec)
        check_extractor(config, extractor)
        return extractor, spec
    extractor, directory = default_extractor(config, progress=progress)
    return extractor, f"classifier:{directory}"


__all__ = ["BUILTIN", "RECIPE", "DefaultSpec", "cache_root", "code_fingerprint", "default_extractor",
           "default_for", "resolve_extractor"]
