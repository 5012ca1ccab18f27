"""The benchmark's PyTorch reference computes the gan_jax train step (torch is optional: skipped without it)."""
import json

import pytest

from gan_jax.bench import throughput
from gan_jax.configs import Config

SMALL = dict(resolution=28, channels=1, g_width=16, d_width=16, batch_size=16)


def test_one_step_matches_pytorch():
    pytest.importorskip("torch")
    from gan_jax.bench.equivalence import check

    diff = check(Config(**SMALL))
    for key in ("d_loss", "g_loss", "g_params", "d_params", "bn_running_mean"):
        assert diff[key] <= 1e-4, (key, diff)
    # Adam's first step is ~lr * sign(grad): parameters whose gradient is ~eps amplify
    # float32 rounding, so the update itself is compared loosely.
    assert diff["g_update"] <= 1e-2 and diff["d_update"] <= 1e-2, diff
    # torch keeps the unbiased batch variance (x n / (n - 1)) in running_var, flax the biased one.
    assert diff["bn_running_var_unbiased_vs_biased"] <= 1e-2, diff


def test_step_flops_count_the_reference_networks():
    config = Config(resolution=64, channels=3, g_width=64, d_width=64, batch_size=1)
    g, d = throughput.conv_layers(config)
    # pytorch/examples DCGAN at 64 px: 4x4 transposed convs 512->256->128->64->3 from a 4x4x512
    # projection; D mirrors it. Multiply-adds per image of every layer's forward pass:
    assert g == [16 * 100 * 512, 16 * 16 * 512 * 256, 64 * 16 * 256 * 128, 256 * 16 * 128 * 64,
                 1024 * 16 * 64 * 3]
    assert d == [1024 * 16 * 3 * 64, 256 * 16 * 64 * 128, 64 * 16 * 128 * 256, 16 * 16 * 256 * 512, 16 * 512]
    fwd = sum(g) + sum(d)
    assert fwd / 1e6 == pytest.approx(208.4, abs=0.1)  # ~0.1 GMAC per image per network
    assert throughput.step_flops(config) == 2 * (3 * sum(g) - g[0] + 2 * (3 * sum(d) - d[0]) + 2 * sum(d))


def test_parse_setting():
    name, config = throughput.parse_setting("dcgan64:32", 16, "bfloat16")
    assert (name, config.resolution, config.channels, config.batch_size, config.g_width, config.compute_dtype) == \
        ("dcgan64:32", 64, 3, 32, 16, "bfloat16")
    with pytest.raises(SystemExit):
        throughput.parse_setting("resnet32", 64, "float32")


def test_parse_inductor_options():
    assert throughput.parse_inductor_options(["layout_optimization=False", "max_autotune=1", "mode=fast"]) == \
        {"layout_optimization": False, "max_autotune": 1, "mode": "fast"}
    with pytest.raises(SystemExit, match="KEY=VALUE"):
        throughput.parse_inductor_options(["layout_optimization"])


def test_benchmark_runs_without_torch(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(throughput, "_have_torch", lambda: False)
    out = tmp_path / "b.json"
    rc = throughput.main(["--settings", "dcgan28:8", "--width", "4", "--steps", "2", "--warmup", "0",
                          "--scan", "2", "--variants", "jax,jax-scan,jax-unroll,torch-eager", "--json", str(out),
                          "--plot", str(tmp_path / "b.png")])
    assert rc == 0
    text = capsys.readouterr().out
    assert "PyTorch is missing" in text and "| dcgan28:8 | jax |" in text
    result = json.loads(out.read_text())["results"][0]
    assert set(result["variants"]) == {"jax", "jax-scan2", "jax-unroll2"}
    assert result["variants"]["jax"]["images_per_s_median"] > 0
    assert (tmp_path / "b.png").stat().st_size > 0


def test_benchmark_runs_with_torch(tmp_path, capsys):
    pytest.importorskip("torch")
    rc = throughput.main(["--settings", "dcgan28:8", "--width", "4", "--steps", "2", "--warmup", "0",
                          "--variants", "jax,torch-eager", "--no-check", "--torch-layout", "channels_last",
                          "--json", str(tmp_path / "b.json")])
    assert rc == 0
    text = capsys.readouterr().out
    assert "| dcgan28:8 | torch-eager |" in text and "torch layout channels_last" in text
    variants = json.loads((tmp_path / "b.json").read_text())["results"][0]["variants"]
    assert variants["jax"]["ratio_to_torch-eager"] > 0
