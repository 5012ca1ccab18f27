"""``gan-jax train``, ``train-classifier`` and ``bench``."""
from __future__ import annotations

import os

from gan_jax.cli import common
from gan_jax.errors import UserError


def add_parsers(sub) -> None:
    p = sub.add_parser("train", help="train a GAN (resumes from the latest checkpoint in --workdir)",
                       description="Train a GAN, or resume the run in --workdir up to --steps.")
    p.add_argument("--config", default=None, help="named config (default: selfcond_mnist; on resume: "
                   "the run's saved config)")
    p.add_argument("--workdir", default="runs/selfcond_mnist", help="run directory (default: %(default)s)")
    p.add_argument("--steps", type=int, help="total number of train steps of the run")
    p.add_argument("--batch-size", type=int, help="global batch size")
    p.add_argument("--seed", type=int, help="random seed (data order, init, noise)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override a config field (repeatable), e.g. --set lr_g=1e-4")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("--restart", action="store_true",
                   help="if every checkpoint in --workdir is unreadable, move them to checkpoints.damaged-TIME/ "
                        "and train from step 0 (a readable one is resumed as usual)")
    p.add_argument("--population", type=int, help="train P independent GANs at once (jax.vmap); "
                   "member i has seed SEED + i; per-member rates: --set population_lr_g=1e-4,2e-4,...")
    p.add_argument("--steps-per-call", type=int, help="fuse K train steps into one compiled call (lax.scan)")
    host = p.add_argument_group("multi-host (jax.distributed; every process runs the same command)")
    host.add_argument("--coordinator", metavar="HOST:PORT", help="address of process 0 (env GAN_JAX_COORDINATOR)")
    host.add_argument("--num-processes", type=int, help="number of processes (env GAN_JAX_NUM_PROCESSES)")
    host.add_argument("--process-id", type=int, help="this process's index, 0 .. N-1 (env GAN_JAX_PROCESS_ID)")
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("train-classifier", help="train a domain classifier (a feature extractor for evaluate)",
                       description="Train a small CNN classifier on a labelled dataset and save it; its "
                       "features give Fréchet classifier distances (gan-jax evaluate --extractor classifier:DIR).")
    p.add_argument("--dataset", default="mnist5k", help="labelled dataset spec (default: %(default)s)")
    common.add_out_option(p, "output directory")
    p.add_argument("--resolution", type=int, default=28, help="image size (default: %(default)s)")
    p.add_argument("--channels", type=int, default=1, choices=(1, 3), help="1 or 3 (default: %(default)s)")
    p.add_argument("--steps", type=int, default=1500, help="train steps (default: %(default)s)")
    common.add_seed_option(p)
    p.set_defaults(func=cmd_train_classifier)

    p = sub.add_parser("bench", help="train-step throughput against the PyTorch reference; --autotune: "
                       "the conv policy of conv_policy=auto",
                       description="Train-step throughput, gan_jax against the PyTorch reference DCGAN "
                       "(needs the bench extra: pip install -e '.[bench]'); with --autotune, the conv-policy "
                       "autotune of conv_policy=auto (what it chose, what each candidate measured). All further "
                       "arguments go to gan_jax.bench.throughput; see 'gan-jax bench --help'.", add_help=False)
    p.set_defaults(func=cmd_bench)  # main() hands the arguments after "bench" over untouched


def multi_host_args(args) -> tuple | None:
    """``(coordinator, num_processes, process_id)`` from the flags or ``GAN_JAX_*`` variables; None if unset."""
    def env_int(name):
        value = os.environ.get(name)
        if value is not None and not value.strip().isdigit():
            raise UserError(f"environment variable {name}={value!r}: expected a non-negative integer")
        return None if value is None else int(value)

    values = (args.coordinator or os.environ.get("GAN_JAX_COORDINATOR"),
              args.num_processes if args.num_processes is not None else env_int("GAN_JAX_NUM_PROCESSES"),
              args.process_id if args.process_id is not None else env_int("GAN_JAX_PROCESS_ID"))
    if all(v is None for v in values):
        return None
    if any(v is None for v in values):
        raise UserError("--coordinator, --num-processes and --process-id: give all three "
                        "(or the GAN_JAX_* environment variables) for a multi-host run")
    return values


def train_config(args):
    """The run's config: the saved one on resume (without --config), else the named one, with
    --set and the flags applied."""
    from gan_jax import configs, workdir as wd

    if args.config is None and os.path.isfile(wd.config_path(os.path.abspath(args.workdir))):
        config = wd.load_config(os.path.abspath(args.workdir))  # resume with the run's own config
    else:
        config = configs.get(args.config or configs.DEFAULT)
    config = configs.override(config, args.set)
    flags = {"steps": args.steps, "batch_size": args.batch_size, "seed": args.seed,
             "population": args.population, "steps_per_call": args.steps_per_call}
    config = configs.override(config, [f"{k}={v}" for k, v in flags.items() if v is not None])
    return configs.validate(config)


def cmd_train(args) -> int:
    return 0 if run(args) is not None else 1


def run(args):
    """What ``gan-jax train`` runs: its :class:`gan_jax.train.TrainResult` (None if it stopped early)."""
    from gan_jax.train import stop_signals, train

    with stop_signals(common.EARLY_SIGNALS):  # a signal during start-up stops the run before it trains
        config = train_config(args)
        multi_host = multi_host_args(args)
        if multi_host is not None:
            from gan_jax.parallel import initialize_distributed
            initialize_distributed(*multi_host)
        common.enable_compilation_cache()
        if config.conv_policy.strip() == "auto":  # this CPU's autotuned policy: timed now unless cached
            from gan_jax.bench.autotune import resolve_config
            config = resolve_config(config)
        return train(config, args.workdir, progress=not args.no_progress, restart=args.restart)


def cmd_train_classifier(args) -> int:
    from gan_jax.metrics.classifier import train_on_dataset

    if args.steps <= 0:
        raise UserError(f"--steps {args.steps}: expected a positive number of steps")
    out = common.output_dir(args.out)
    clf = train_on_dataset(args.dataset, resolution=args.resolution, channels=args.channels, steps=args.steps,
                           seed=args.seed, progress=True)
    clf.save(out)
    print(f"wrote {out}: {clf.info['name']}, held-out accuracy {clf.info.get('holdout_accuracy', float('nan')):.3f}")
    return 0


def cmd_bench(argv: list[str]) -> int:
    from gan_jax.bench.throughput import main as bench_main

    return bench_main(argv)
