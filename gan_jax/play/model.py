"""A run's trained networks as the page uses them.

:class:`RunModel` restores the checkpoint a control names (``latest`` follows the run while
it trains: a newer checkpoint is restored at the next call that asks for it), and holds the
jitted programs the page calls. Each program is built once per run and reused: a slider move
calls the same compiled ``edit`` program with new strengths, never a new trace; batches of
images are padded to a few fixed sizes (:data:`BATCH_SIZES`) so that any image count reuses
one of a handful of programs.
"""
from __future__ import annotations

import functools
import threading
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from gan_jax import tasks
from gan_jax.errors import UserError
from gan_jax.play import runlog

BATCH_SIZES = (1, 4, 16, 64)
"""The batch sizes the sampling program is compiled for; a request is padded to the next one."""
MAX_IMAGES = BATCH_SIZES[-1]


class NoCheckpointYet(UserError):
    """The run has written no checkpoint yet."""

    def __init__(self, workdir: str):
        super().__init__(f"no checkpoint yet in {workdir}: the page keeps watching and uses the first "
                         f"checkpoint as soon as gan-jax train writes one")


class Directions(NamedTuple):
    """The edit sliders' latent directions: ``names`` [K] and unit ``vectors`` [K, Z]."""
    names: tuple[str, ...]
    vectors: np.ndarray


class Restored(NamedTuple):
    """A restored checkpoint: its ``state`` (a GANState) and ``step``."""
    state: Any
    step: int


def _padded(n: int) -> int:
    return next(b for b in BATCH_SIZES if b >= n)


class RunModel:
    """The networks of the run in ``workdir`` (its config ``config``), restored on demand.

    ``sefa``: how many SeFa directions get a slider; ``classifier``: a
    :class:`gan_jax.metrics.classifier.Classifier` whose classes also get one (InterFaceGAN
    directions, fitted on ``classifier_samples`` generated images), or None.
    Thread-safe: the page's handlers run in several threads.
    """

    def __init__(self, workdir: str, config, *, sefa: int = 5, classifier=None, classifier_samples: int = 1000):
        self.workdir, self.config = workdir, config
        self.latent = tasks.supports(config, "sample")
        self.num_sefa = min(sefa, config.z_dim) if self.latent else 0
        self.classifier, self.classifier_samples = classifier, classifier_samples
        self._lock = threading.Lock()
        self._restored: dict[tuple[str, int], Restored] = {}
        self._directions: dict[tuple, Directions] = {}
        if self.latent:
            self._sample, self._edit = _programs(config)

    # --- checkpoints ---------------------------------------------------------------------

    def checkpoint_choices(self) -> list[str]:
        """What the checkpoint control offers: ``latest``, ``best`` when kept, then every step, newest first."""
        choices = ["latest"] + (["best"] if runlog.has_best(self.workdir) else [])
        return choices + [str(s) for s in reversed(runlog.checkpoint_steps(self.workdir))]

    def restore(self, checkpoint: str = "latest") -> Restored:
        """The state at ``checkpoint`` (``latest``, ``best`` or a step). :class:`NoCheckpointYet`
        before the first checkpoint; a UserError for a step that is not there."""
        from gan_jax.checkpoint import restore_run

        checkpoint = str(checkpoint or "latest")
        steps = runlog.checkpoint_steps(self.workdir)
        if not steps and checkpoint != "best":
            raise NoCheckpointYet(self.workdir)
        if checkpoint == "latest":
            key = ("steps", steps[-1])
        elif checkpoint == "best":
            key = ("best", max(_best_steps(self.workdir), default=-1))
        else:
            try:
                key = ("steps", int(checkpoint))
            except ValueError:
                raise UserError(f"checkpoint {checkpoint!r}: expected latest, best or a step number") from None
        with self._lock:
            if key not in self._restored:
                # "latest" restores the newest readable one, which may be older than the listing
                # (a checkpoint removed by keep_checkpoints meanwhile, or damaged).
                state, _ = restore_run(self.workdir, self.config,
                                       "latest" if checkpoint == "latest" else checkpoint)
                found = Restored(state, int(np.ravel(jax.device_get(state.step))[0]))
                if len(self._restored) >= 3:  # the checkpoints in use: latest, one chosen, best
                    self._restored.pop(next(iter(self._restored)))
                self._restored[key] = found
            return self._restored[key]

    def variables(self, checkpoint: str = "latest", ema: bool = True) -> tuple[dict, int]:
        """G's variables at ``checkpoint`` (the EMA copy when kept and ``ema``) and the step."""
        restored = self.restore(checkpoint)
        return restored.state.generator_variables(ema), restored.step

    # --- latents and images ----------------------------------------------------------------

    def labels(self, label: int | None, num: int) -> np.ndarray | None:
        """int32 [num] labels of class ``label`` for a conditional run (UserError when out of
        range or missing), None for an unconditional one."""
        k = self.config.num_classes
        if not k:
            return None
        if label is None or not 0 <= int(label) < k:
            raise UserError(f"class {label}: expected a class in 0..{k - 1}")
        return np.full((num,), int(label), np.int32)

    def latents(self, seed: int, num: int, truncation: float = 1.0) -> np.ndarray:
        """float32 [num, Z]: ``truncation`` x the first ``num`` latents drawn with ``seed``
        (the latents of ``gan-jax sample --seed``: latent k is the same for every ``num``)."""
        z = jax.random.normal(jax.random.PRNGKey(int(seed)), (int(num), self.config.z_dim))
        return np.asarray(z, np.float32) * np.float32(truncation)

    def sample(self, variables, z: np.ndarray, labels: np.ndarray | None = None) -> np.ndarray:
        """Images float32 [N, R, R, C] in [-1, 1] of latents z [N, Z] (N <= :data:`MAX_IMAGES`),
        BatchNorm in eval mode; one compiled program per padded batch size."""
        n = len(z)
        if not 0 < n <= MAX_IMAGES:
            raise UserError(f"{n} images: expected 1..{MAX_IMAGES}")
        b = _padded(n)
        z = np.concatenate([z, np.zeros((b - n, z.shape[1]), z.dtype)]) if b > n else z
        if labels is not None:
            labels = np.concatenate([labels, np.zeros(b - n, np.int32)]) if b > n else labels
        return np.asarray(self._sample(variables, jnp.asarray(z), labels))[:n]

    def edit(self, variables, z: np.ndarray, directions: np.ndarray, strengths: np.ndarray,
             label: int | None = None, target: int | None = None, mix: float = 0.0) -> np.ndarray:
        """The image float32 [R, R, C] of latent z [Z] moved by ``strengths`` [K] along
        ``directions`` [K, Z]; conditional runs draw class ``label`` with its per-class
        parameters mixed ``mix`` of the way towards class ``target``. One compiled program."""
        labels = self.labels(label, 1)
        target = labels[0] if target is None and labels is not None else (0 if target is None else int(target))
        out = self._edit(variables, jnp.asarray(z, jnp.float32)[None], jnp.asarray(directions, jnp.float32),
                         jnp.asarray(strengths, jnp.float32), labels, jnp.int32(target), jnp.float32(mix))
        return np.asarray(out)[0]

    # --- directions ------------------------------------------------------------------------

    def directions(self, checkpoint: str = "latest", ema: bool = True, label: int | None = None) -> Directions:
        """The sliders' directions for G at ``checkpoint``: the top SeFa directions, then (with a
        classifier) one InterFaceGAN direction per class ("towards class k"). Cached per
        checkpoint, EMA and (for the classifier's) class."""
        from gan_jax.edit import first_layer_weight, sefa
        from gan_jax.models.dcgan import inputs_beside_z

        variables, step = self.variables(checkpoint, ema)
        key = (step, checkpoint == "best", ema, label if self.classifier is not None else None)
        with self._lock:
            if key in self._directions:
                return self._directions[key]
        names, vectors = [], []
        if self.num_sefa:
            names += [f"SeFa {i}" for i in range(self.num_sefa)]
            weight = first_layer_weight(variables["params"], self.config.z_dim, inputs_beside_z(self.config))
            vectors.append(np.asarray(sefa(weight, self.num_sefa)))
        if self.classifier is not None:
            k = self.classifier.info["num_classes"]
            names += [f"towards class {c}" for c in range(k)]
            vectors.append(self._class_directions(variables, label))
        found = Directions(tuple(names), np.concatenate(vectors) if vectors else
                           np.zeros((0, self.config.z_dim), np.float32))
        with self._lock:
            if len(self._directions) >= 16:  # a run that trains brings a new checkpoint now and then
                self._directions.pop(next(iter(self._directions)))
            self._directions[key] = found
        return found

    def _class_directions(self, variables, label) -> np.ndarray:
        """[K, Z]: for each class k of the classifier, the unit normal of the boundary between the
        latents whose images it calls k and the others (InterFaceGAN)."""
        from gan_jax.edit import fit_boundary

        n = self.classifier_samples
        z = self.latents(seed=12345, num=n)
        chunks = [z[i:i + MAX_IMAGES] for i in range(0, n, MAX_IMAGES)]
        images = np.concatenate([self.sample(variables, c, self.labels(label, len(c))) for c in chunks])
        logits, _ = self.classifier.logits_and_features(images)
        predicted = np.asarray(logits).argmax(-1)
        return np.stack([np.asarray(fit_boundary(jnp.asarray(z), jnp.asarray(predicted == c))[0])
                         for c in range(self.classifier.info["num_classes"])]).astype(np.float32)

    # --- the discriminator, for inversion ---------------------------------------------------

    @property
    def d_features(self):
        """``features(d_variables, images)``: D's feature maps (one function object per config, so that
        the inversion programs that take it as a static argument compile once)."""
        return _d_features(self.config)

    def d_variables(self, checkpoint: str = "latest") -> dict:
        state = self.restore(checkpoint).state
        return {"params": state.d_params, "batch_stats": state.d_stats}


@functools.lru_cache(maxsize=8)
def _programs(config) -> tuple:
    """The jitted ``sample(variables, z, labels)`` and ``edit(...)`` of ``config``'s generator (shared by
    every :class:`RunModel` of an equal config in this process)."""
    from gan_jax import sampling
    from gan_jax.models.dcgan import takes_label_input

    sample = sampling.make_sample_fn(config)
    label_rows_from = config.z_dim if takes_label_input(config) else None
    edit = functools.partial(_edit, sample, bool(config.num_classes), label_rows_from)
    return sampling.jitted_sampler(config), jax.jit(edit)


@functools.lru_cache(maxsize=8)
def _d_features(config):
    from gan_jax import models
    from gan_jax.edit import discriminator_features

    return discriminator_features(models.build(config)[1])


def _best_steps(workdir: str) -> list[int]:
    from gan_jax import workdir as wd
    return runlog._numbered_dirs(wd.best_checkpoint_dir(workdir))


def _edit(sample, conditional: bool, label_rows_from, variables, z, directions, strengths, labels, target, mix):
    """``sample`` of z [1, Z] + strengths [K] @ directions [K, Z]; conditional runs with
    class ``labels[0]``'s per-class parameters mixed ``mix`` towards class ``target``
    (:func:`gan_jax.edit.class_mix`; ``label_rows_from``: Z for a G that takes the label beside z)."""
    from gan_jax.edit import class_mix

    z = z + (strengths @ directions)[None]
    if conditional:
        variables = class_mix(variables, labels[0], target, mix, label_rows_from)
    return sample(variables, z, labels)
