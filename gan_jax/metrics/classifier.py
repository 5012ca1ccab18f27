"""A small CNN classifier trained on the real data: a domain feature extractor.

Its penultimate activations are the features of a Fréchet *classifier*
distance, and its predictions say whether generated digits are recognisable.
Trained in JAX on a labelled :class:`~gan_jax.data.ImageSource`.
"""
from __future__ import annotations

import dataclasses
import functools
import json
import os

import flax.linen as nn
import flax.serialization
import jax
import jax.numpy as jnp
import numpy as np
import optax
import tqdm

from gan_jax.errors import UserError
from gan_jax.files import atomic_write


class ClassifierNet(nn.Module):
    """images [B, H, W, C] in [-1, 1] -> (logits [B, classes], features [B, features])."""

    num_classes: int = 10
    features: int = 128

    @nn.compact
    def __call__(self, x, train: bool = False):
        for ch in (32, 64):
            x = nn.relu(nn.Conv(ch, (3, 3))(x))
            x = nn.relu(nn.Conv(ch, (3, 3), strides=(2, 2))(x))
        x = x.reshape(x.shape[0], -1)
        x = nn.Dropout(0.3, deterministic=not train)(x)
        feats = nn.relu(nn.Dense(self.features)(x))
        return nn.Dense(self.num_classes)(feats), feats


@dataclasses.dataclass
class Classifier:
    """A trained classifier: ``net``, ``params`` and what it was trained on."""

    net: ClassifierNet
    params: dict
    info: dict

    @functools.cached_property
    def _apply(self):
        return jax.jit(lambda p, x: self.net.apply({"params": p}, x))

    def logits_and_features(self, images: np.ndarray, chunk: int = 500):
        """images [N, H, W, C] in [-1, 1] -> (logits [N, K], features [N, F]) as numpy."""
        outs = [self._apply(self.params, jnp.asarray(images[i:i + chunk])) for i in range(0, len(images), chunk)]
        return (np.concatenate([np.asarray(o[0]) for o in outs]),
                np.concatenate([np.asarray(o[1]) for o in outs]))

    def predict(self, images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(class [N], confidence [N]) from the softmax."""
        logits, _ = self.logits_and_features(images)
        p = np.asarray(jax.nn.softmax(logits, axis=-1))
        return p.argmax(-1), p.max(-1)

    def save(self, directory: str) -> None:
        """Write ``params.msgpack`` and ``info.json`` (each atomically; info last, so a
        directory with ``info.json`` always has its weights)."""
        os.makedirs(directory, exist_ok=True)
        for name, payload in (("params.msgpack", flax.serialization.to_bytes(self.params)),
                              ("info.json", json.dumps(self.info, indent=2).encode())):
            with atomic_write(os.path.join(directory, name)) as f:
                f.write(payload)

    @classmethod
    def load(cls, directory: str) -> "Classifier":
        info_path = os.path.join(directory, "info.json")
        if not os.path.isfile(info_path):
            raise UserError(f"{directory}: not a classifier directory (no info.json); "
                            f"expected the --out of gan-jax train-classifier")
        with open(info_path) as f:
            info = json.load(f)
        net = ClassifierNet(info["num_classes"], info["features"])
        template = net.init(jax.random.PRNGKey(0), jnp.zeros((1, *info["image_shape"])))["params"]
        params_path = os.path.join(directory, "params.msgpack")
        try:
            with open(params_path, "rb") as f:
                params = flax.serialization.from_bytes(template, f.read())
        except Exception as e:  # noqa: BLE001 - missing, truncated or foreign file
            raise UserError(f"{params_path}: unreadable classifier weights ({type(e).__name__}); "
                            f"retrain with gan-jax train-classifier") from None
        return cls(net, params, info)


def train_classifier(images: np.ndarray, labels: np.ndarray, *, num_classes: int, steps: int = 1500,
                     batch_size: int = 128, seed: int = 0, holdout: float = 0.1,
                     name: str = "classifier", progress: bool = False) -> Classifier:
    """Train on images [N, H, W, C] in [-1, 1] with int labels [N]; reports held-out accuracy in ``info``."""
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(images))
    n_val = int(len(images) * holdout)
    val, tr = order[:n_val], order[n_val:]
    net = ClassifierNet(num_classes)
    key = jax.random.PRNGKey(seed)
    params = net.init(key, jnp.zeros((1, *images.shape[1:])))["params"]
    tx = optax.adam(1e-3)
    opt = tx.init(params)

    @jax.jit
    def step(params, opt, x, y, key):
        def loss_fn(p):
            logits, _ = net.apply({"params": p}, x, train=True, rngs={"dropout": key})
            return optax.softmax_cross_entropy_with_integer_labels(logits, y).mean()
        loss, g = jax.value_and_grad(loss_fn)(params)
        updates, opt = tx.update(g, opt, params)
        return optax.apply_updates(params, updates), opt, loss

    for _ in tqdm.trange(steps, desc="train classifier", disable=not progress, dynamic_ncols=True):
        idx = tr[rng.integers(0, len(tr), batch_size)]
        key, sub = jax.random.split(key)
        params, opt, _ = step(params, opt, jnp.asarray(images[idx]), jnp.asarray(labels[idx]), sub)
    clf = Classifier(net, params, {"name": name, "num_classes": num_classes, "features": net.features,
                                   "image_shape": list(images.shape[1:]), "steps": steps, "seed": seed})
    if n_val:
        pred, _ = clf.predict(images[val])
        clf.info["holdout_accuracy"] = float(np.mean(pred == labels[val]))
    return clf


def train_on_dataset(dataset: str, *, resolution: int = 28, channels: int = 1, steps: int = 1500,
                     seed: int = 0, progress: bool = False) -> Classifier:
    """Train on every image of a labelled dataset spec (e.g. ``mnist5k``); named ``<dataset>-cnn``."""
    from gan_jax import data

    source = data.load_source(dataset, resolution=resolution, channels=channels)
    if source.labels is None:
        raise UserError(f"--dataset {dataset}: has no labels; a classifier needs a labelled dataset")
    images, labels = source.get(np.arange(len(source)))
    return train_classifier(data.to_float(images), labels, num_classes=source.num_classes, steps=steps,
                            seed=seed, name=f"{dataset}-cnn", progress=progress)


def load_or_train(directory: str, dataset: str = "mnist5k") -> Classifier:
    """The classifier saved in ``directory``, or one trained on ``dataset`` with the
    defaults of ``gan-jax train-classifier`` and saved there."""
    if os.path.isfile(os.path.join(directory, "info.json")):
        return Classifier.load(directory)
    clf = train_on_dataset(dataset, progress=True)
    clf.save(directory)
    return clf
