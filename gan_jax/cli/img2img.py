"""``gan-jax translate`` and ``upscale``: image-to-image runs on images of any size (the work is
the run's task's: :func:`gan_jax.tasks.operation`)."""
from __future__ import annotations

from gan_jax.cli import common
from gan_jax.errors import UserError


def _add_img2img_options(p, image_help: str) -> None:
    common.add_run_options(p)
    common.add_image_option(p, image_help)
    common.add_out_option(p, "output image (.png)")


def add_parsers(sub) -> None:
    p = sub.add_parser("translate", help="translate an image with a pix2pix or CycleGAN run",
                       description="Translate --image with the generator of a pix2pix or CycleGAN run (any "
                       "size: the image goes through the generator in overlapping tiles of the training size).")
    _add_img2img_options(p, "source image (PNG), e.g. a noisy or greyscale photo, an edge map")
    p.add_argument("--direction", default="a2b", choices=("a2b", "b2a"),
                   help="CycleGAN: dataset -> dataset_b (a2b, default) or back (b2a)")
    p.set_defaults(func=cmd_translate)

    p = sub.add_parser("upscale", help="super-resolve an image with an SRGAN run",
                       description="Upscale --image by the run's factor with its SR generator, in overlapping "
                       "tiles of --tile input pixels so memory stays bounded for any image size.")
    _add_img2img_options(p, "low-resolution image (PNG)")
    p.add_argument("--scale", type=int, required=True, help="upscaling factor; must be the run's (2 or 4)")
    p.add_argument("--tile", type=int, default=64, help="tile size in input pixels (default: %(default)s)")
    p.set_defaults(func=cmd_upscale)


def cmd_translate(args) -> int:
    from gan_jax import images

    common.output_file(args.out, (".png",))
    config = common.run_config(args)
    translate = common.operation(config, "translate", args)
    image = images.load_image_with_channels(args.image, config.channels)
    config, state = common.restore(args, config)
    out = translate(config, state, image, direction=args.direction, use_ema=not args.no_ema)
    images.save_image(images.to_uint8(out), args.out)
    print(f"wrote {args.out} ({out.shape[1]}x{out.shape[0]}, {config.task} {args.direction}, step {int(state.step)})")
    return 0


def cmd_upscale(args) -> int:
    from gan_jax import images

    common.output_file(args.out, (".png",))
    common.positive(args, "tile")
    config = common.run_config(args)
    upscale = common.operation(config, "upscale", args)
    if args.scale != config.scale:
        raise UserError(f"--scale {args.scale}: this run upscales by {config.scale}; expected --scale {config.scale}")
    image = images.load_image_with_channels(args.image, config.channels)
    config, state = common.restore(args, config)
    out = upscale(config, state, image, tile=args.tile, use_ema=not args.no_ema)
    images.save_image(images.to_uint8(out), args.out)
    print(f"wrote {args.out} ({out.shape[1]}x{out.shape[0]}, x{config.scale} from {image.shape[1]}x{image.shape[0]}, "
          f"step {int(state.step)})")
    return 0
