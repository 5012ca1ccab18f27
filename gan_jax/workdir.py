"""The run directory: where a run's config, metrics, samples and checkpoints live.

::

    DIR/config.json          the config of the run (rewritten on each start)
    DIR/metrics.jsonl        one JSON object per logged step
    DIR/tensorboard/         TensorBoard event files
    DIR/samples/step_XXXXXXX.png   sample grids from a fixed latent batch
    DIR/checkpoints/<step>/  orbax checkpoints (the newest ``keep_checkpoints``)
    DIR/best/<step>/         the best checkpoint by ``eval_metric`` (with evaluation on)
    DIR/eval.json            the last ``gan-jax evaluate`` result
"""
from __future__ import annotations

import json
import os

from gan_jax import configs, registry
from gan_jax.errors import UserError
from gan_jax.files import atomic_write, check_output_dir


def check(workdir: str) -> str:
    """The absolute path of ``workdir``; UserError if it exists and is not a directory."""
    workdir = os.path.abspath(workdir)
    if os.path.exists(workdir) and not os.path.isdir(workdir):
        raise UserError(f"--workdir {workdir}: is a file; expected a directory (existing or new)")
    return workdir


def prepare(workdir: str) -> str:
    """Create ``workdir`` (and ``samples/``) if needed; UserError if it is a file or unwritable
    (checked by writing a file there, so root gets it too on a read-only filesystem)."""
    workdir = check(workdir)
    check_output_dir(workdir, "--workdir")
    try:
        os.makedirs(os.path.join(workdir, "samples"), exist_ok=True)
    except OSError as e:
        raise UserError(f"--workdir {workdir}: cannot create it ({e.strerror})") from None
    return workdir


def write_json(path: str, obj) -> None:
    """Write JSON atomically (:func:`gan_jax.files.atomic_write`)."""
    with atomic_write(path, "w") as f:
        json.dump(obj, f, indent=2, sort_keys=True)
        f.write("\n")


def config_path(workdir: str) -> str:
    return os.path.join(workdir, "config.json")


def checkpoint_dir(workdir: str) -> str:
    return os.path.join(workdir, "checkpoints")


def best_checkpoint_dir(workdir: str) -> str:
    return os.path.join(workdir, "best")


def eval_path(workdir: str) -> str:
    return os.path.join(workdir, "eval.json")


def save_config(workdir: str, config) -> None:
    """``config.json``: the config's fields, and under ``imports`` the modules outside gan_jax that
    registered its loss, model or task (imported again by :func:`load_config`)."""
    from gan_jax import tasks

    values = config.to_dict()
    modules = tasks.user_modules(config)
    if modules:
        values["imports"] = modules
    write_json(config_path(workdir), values)


def load_config(workdir: str):
    """The config saved in ``workdir/config.json``; UserError if there is no run there."""
    path = config_path(workdir)
    if not os.path.isdir(workdir):
        raise UserError(f"--workdir {workdir}: no such directory; expected a run directory from gan-jax train")
    if not os.path.isfile(path):
        raise UserError(f"--workdir {workdir}: no config.json; expected a run directory from gan-jax train")
    try:
        with open(path) as f:
            values = json.load(f)
        registry.import_modules(values.get("imports", ()), f"{path}: imports")
        return configs.validate(configs.from_dict(values))
    except (json.JSONDecodeError, TypeError, AttributeError) as e:
        raise UserError(f"{path}: not a valid config file ({e})") from None
