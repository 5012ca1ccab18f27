"""One 64 px pix2pix train step (UNet + PatchGAN), its 3-channel image layers by the default (kernel
gradient by a patches matmul), im2col, or the plain lax ops; interleaved, medians (benchmarks/NOTES.md).

    python benchmarks/img2img_image_layers.py --config pix2pix_denoise --rounds 8
"""
import argparse
import dataclasses
import statistics

import jax
import numpy as np

from gan_jax import configs
from gan_jax.bench.timing import interleaved_times
from gan_jax.tasks import init_state, make_train_step


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--config", default="pix2pix_denoise")
    p.add_argument("--rounds", type=int, default=8)
    args = p.parse_args()
    config = configs.get(args.config)
    state = init_state(config)
    b, r, c = config.batch_size, config.resolution, config.channels
    rng = np.random.default_rng(0)
    batch = {"source": rng.uniform(-1, 1, (b, r, r, c)).astype(np.float32),
             "target": rng.uniform(-1, 1, (b, r, r, c)).astype(np.float32)}
    def one_step(**choices):
        spec = ",".join(f"{key}={value}" for key, value in choices.items())
        policy_config = dataclasses.replace(config, conv_policy=spec)
        step = jax.jit(make_train_step(policy_config)).lower(state, batch).compile()
        return lambda: jax.block_until_ready(step(state, batch))

    runs = {"default": one_step(), "small-im2col": one_step(small="im2col"), "small-lax": one_step(small="lax")}
    for name, t in interleaved_times(runs, args.rounds, warmup=1).items():
        print(f"{args.config}, batch {b}: {name} {1000 * statistics.median(t):.0f} ms per step "
              f"(min {1000 * min(t):.0f}, max {1000 * max(t):.0f})")


if __name__ == "__main__":
    main()
