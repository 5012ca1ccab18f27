"""What several commands share: their common options (declared here once), reading a run
(config, checkpoint, population member) and checking output paths before any work."""
from __future__ import annotations

import argparse
import os

from gan_jax.errors import UserError

# --- options -------------------------------------------------------------------------------


def add_run_options(p: argparse.ArgumentParser, *, member: bool = False) -> None:
    """--workdir (a trained run), --checkpoint and --no-ema; --member with ``member``."""
    p.add_argument("--workdir", required=True, help="run directory written by gan-jax train")
    p.add_argument("--checkpoint", default="latest", help="latest (default), best or a step number")
    p.add_argument("--no-ema", action="store_true", help="use the raw generator weights, not the EMA")
    if member:
        p.add_argument("--member", type=int, help="population runs: which member (0 .. P-1)")


def add_class_option(p: argparse.ArgumentParser, help: str) -> None:
    p.add_argument("--class", dest="label", type=int, default=None, help=help)


def add_seed_option(p: argparse.ArgumentParser, help: str = "random seed (default: %(default)s)") -> None:
    p.add_argument("--seed", type=int, default=0, help=help)


def add_image_option(p: argparse.ArgumentParser, help: str) -> None:
    p.add_argument("--image", required=True, help=help)


def add_out_option(p: argparse.ArgumentParser, help: str) -> None:
    p.add_argument("--out", required=True, help=help)


def add_progress_option(p: argparse.ArgumentParser) -> None:
    p.add_argument("--no-progress", action="store_true",
                   help="no progress bar (it is shown only when stderr is a terminal)")


def positive(args, *names: str) -> None:
    """UserError naming the first of the options ``names`` whose value is not positive."""
    for name in names:
        if getattr(args, name) <= 0:
            raise UserError(f"--{name.replace('_', '-')} {getattr(args, name)}: expected a positive number")


# --- outputs -------------------------------------------------------------------------------


def output_file(path: str, extensions: tuple[str, ...], option: str = "--out") -> str:
    """The lower-case extension of an output file; UserError unless it is one of ``extensions``
    and a file can be written there (checked by writing one: :func:`gan_jax.files.check_output_file`)."""
    from gan_jax.files import check_output_file

    ext = os.path.splitext(path)[1].lower()
    if ext not in extensions:
        raise UserError(f"{option} {path}: expected a {' or '.join(extensions)} file name")
    check_output_file(path, option)
    return ext


def output_dir(path: str, option: str = "--out") -> str:
    """The absolute path of an output directory that can be created and written (checked by doing
    so, and undone: :func:`gan_jax.files.check_output_dir`)."""
    from gan_jax.files import check_output_dir

    return check_output_dir(path, option)


# --- runs ----------------------------------------------------------------------------------


def enable_compilation_cache() -> None:
    """Keep compiled programs on disk: a second ``gan-jax train`` run skips their compilation.

    ``$JAX_COMPILATION_CACHE_DIR`` wins if set (empty: no cache); otherwise
    ``$XDG_CACHE_HOME/gan_jax/xla`` (default ``~/.cache/gan_jax/xla``).
    """
    import jax

    cache = os.environ.get("JAX_COMPILATION_CACHE_DIR")
    if cache is None:
        root = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
        cache = os.path.join(root, "gan_jax", "xla")
    if cache:
        jax.config.update("jax_compilation_cache_dir", cache)
        # Also the programs that compile in under JAX's default 1 s: the init (compiled
        # without LLVM optimisation) and the sample grid's draws.
        jax.config.update("jax_persistent_cache_min_compile_time_secs", 0)


def run_config(args):
    """The config of the run in --workdir."""
    from gan_jax import workdir as wd

    return wd.load_config(os.path.abspath(args.workdir))


def operation(config, name: str, args):
    """The run's implementation of the inference operation ``name`` (:func:`gan_jax.tasks.operation`);
    UserError naming --workdir when its task has none."""
    from gan_jax import tasks

    return tasks.operation(config, name, option=f"--workdir {args.workdir}")


def latent_config(args):
    """The config of --workdir; UserError unless the run has a latent space (its task can sample)."""
    config = run_config(args)
    operation(config, "sample", args)
    return config


def restore(args, config):
    """``(config, state)`` of --workdir at --checkpoint (of population member --member)."""
    from gan_jax.checkpoint import restore_run

    enable_compilation_cache()
    state, _ = restore_run(os.path.abspath(args.workdir), config, args.checkpoint)
    return population_member(args, config, state)


def population_member(args, config, state):
    """``(config, state)`` of population member ``--member`` (the run itself without a population)."""
    member = getattr(args, "member", None)
    if config.population == 1:
        if member not in (None, 0):
            raise UserError(f"--member {member}: {args.workdir} is a single GAN, not a population")
        return config, state
    if member is None or not 0 <= member < config.population:
        raise UserError(f"--member: {args.workdir} holds a population of {config.population} GANs; expected "
                        f"--member 0..{config.population - 1} (gan-jax sample / evaluate)")
    from gan_jax.configs import member_configs
    from gan_jax.parallel import member_state
    return member_configs(config)[member], member_state(state, member, config.population)


EARLY_SIGNALS: list[str] = []
"""gan-jax train: SIGTERM/SIGINT that came before the train loop took the signals over."""


def keep_for_train(signum, frame) -> None:
    """``gan-jax train``'s start-up signal handler: keep the signal for the train loop. It never
    raises: Python drops an exception raised inside a garbage-collection callback, and the run
    would go on."""
    import signal

    EARLY_SIGNALS.append(signal.Signals(signum).name)
