"""Which memory layout and inductor settings let the PyTorch reference step run under torch.compile?

On CUDA, torch.compile of the reference DCGAN step failed inside inductor's ``convolution_backward``
(a stride assertion, ``benchmarks/RESULTS.md``). This tries candidate ``torch.compile(options=...)``
settings in order; for each it builds the compiled and the eager reference from identical weights,
runs one step on the same batch and latents, and prints the relative differences of the losses and
updated G weights. The first setting that runs and agrees (≤ 1e-2: TF32 convolutions on GPU) is
written to ``--out`` as ``--torch-layout`` / ``--inductor`` arguments for ``benchmarks/throughput.py``.

    python benchmarks/torch_compile_probe.py --setting dcgan28:128 --out inductor_args.txt
"""
from __future__ import annotations

import argparse
import sys
import time

CANDIDATES = (  # (torch memory layout, inductor options)
    ("nchw", {"layout_optimization": False}),
    ("nchw", {}),
    ("channels_last", {}),
    ("channels_last", {"layout_optimization": False}),
)


def _rel(a, b) -> float:
    import torch

    return float(torch.linalg.vector_norm(a - b) / torch.clamp(torch.linalg.vector_norm(b), min=1e-12))


def try_options(config, layout: str, options: dict, device: str) -> dict:
    import torch

    from gan_jax.bench.torch_ref import TorchDCGAN
    from gan_jax.tasks import init_state

    torch._dynamo.reset()
    state = init_state(config)
    channels_last = layout == "channels_last"
    refs = {}
    for name, compile in (("eager", False), ("compile", True)):
        ref = TorchDCGAN(config, compile=compile, device=device, channels_last=channels_last,
                         compile_options=options or None)
        ref.load_state(state)
        refs[name] = ref
    gen = torch.Generator(device=device).manual_seed(0)
    real = torch.rand(config.batch_size, config.channels, config.resolution, config.resolution,
                      generator=gen, device=device) * 2 - 1
    if channels_last:
        real = real.contiguous(memory_format=torch.channels_last)
    z = torch.randn(config.batch_size, config.z_dim, generator=gen, device=device)
    t = time.perf_counter()
    out = {name: ref.step(real, z) for name, ref in refs.items()}
    seconds = time.perf_counter() - t
    g = [torch.cat([p.detach().flatten() for p in refs[n].g.parameters()]) for n in ("compile", "eager")]
    return {"d_loss": _rel(out["compile"]["d_loss"], out["eager"]["d_loss"]),
            "g_loss": _rel(out["compile"]["g_loss"], out["eager"]["g_loss"]),
            "g_params": _rel(*g), "first_steps_s": seconds}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--setting", default="dcgan28:128")
    p.add_argument("--device", default="auto", help="cpu, cuda or auto")
    p.add_argument("--tolerance", type=float, default=1e-2)
    p.add_argument("--out", help="write the first working setting here as --torch-layout / --inductor arguments")
    args = p.parse_args(argv)

    import torch

    from gan_jax.bench.throughput import parse_setting

    device = args.device if args.device != "auto" else ("cuda" if torch.cuda.is_available() else "cpu")
    _, config = parse_setting(args.setting, 64, "float32")
    print(f"torch {torch.__version__} on {torch.cuda.get_device_name() if device == 'cuda' else 'cpu'}, "
          f"{args.setting}")
    for layout, options in CANDIDATES:
        try:
            r = try_options(config, layout, options, device)
        except Exception as e:  # noqa: BLE001 - the point is to see which settings fail
            why = str(e).splitlines()[0][:300]
            print(f"  {layout}, options {options}: FAILED {type(e).__name__}: {why}", flush=True)
            continue
        ok = max(r["d_loss"], r["g_loss"], r["g_params"]) <= args.tolerance
        print(f"  {layout}, options {options}: ran; compiled vs eager relative: d_loss {r['d_loss']:.1e}, "
              f"g_loss {r['g_loss']:.1e}, G params {r['g_params']:.1e} "
              f"({r['first_steps_s']:.1f} s) — {'OK' if ok else 'MISMATCH'}", flush=True)
        if ok:
            if args.out:
                with open(args.out, "w") as f:
                    args_ = [f"--torch-layout {layout}"] + [f"--inductor {k}={v}" for k, v in options.items()]
                    f.write(" ".join(args_))
            return 0
    return 1


if __name__ == "__main__":
    sys.exit(main())
