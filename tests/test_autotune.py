"""conv_policy=auto: the per-CPU autotune of the conv policy (gan_jax.ops.autotune, gan_jax.bench.autotune)."""
import dataclasses
import json
import os
import re

import pytest

from gan_jax import configs, ops
from gan_jax.errors import UserError
from gan_jax.ops import autotune

XEON = """processor\t: 0
vendor_id\t: GenuineIntel
model name\t: Intel(R) Xeon(R) Processor
flags\t\t: fpu sse sse2 avx avx2 fma avx512f avx512bw avx512vl avx512_bf16 amx_tile amx_bf16
processor\t: 1
model name\t: Intel(R) Xeon(R) Processor
flags\t\t: fpu sse
"""
EPYC_AVX2 = "model name\t: AMD EPYC 7B13\nflags\t\t: fpu sse avx avx2 fma\n"
ARM = "processor\t: 0\nFeatures\t: fp asimd sve bf16\nCPU part\t: 0xd40\n"


@pytest.fixture
def cache(tmp_path, monkeypatch):
    """The autotune cache in tmp_path, this process's memory of choices cleared."""
    monkeypatch.setenv("GAN_JAX_CACHE", str(tmp_path / "cache"))
    autotune.forget()
    yield tmp_path / "cache" / autotune.CACHE_FILE
    autotune.forget()


@pytest.fixture
def auto_config():
    return configs.override(configs.get("dcgan_mnist"), ["conv_policy=auto"])


class FakeMeasure:
    """``measure(config, specs)`` with fixed seconds per step per spec; counts its calls."""

    def __init__(self, times: dict, failed: dict | None = None):
        self.times, self.failed, self.calls = times, failed or {}, []

    def __call__(self, config, specs):
        self.calls.append(list(specs))
        return {s: list(self.times[s]) for s in specs if s in self.times}, dict(self.failed)


def test_cache_key_names_the_cpu_model_and_its_isa(auto_config):
    cpu = autotune.cpu_id_from(XEON, cores=2)
    assert cpu.model == "Intel(R) Xeon(R) Processor"
    assert cpu.isa == ("avx2", "fma", "avx512f", "avx512bw", "avx512vl", "avx512_bf16", "amx_tile", "amx_bf16")
    key = autotune.cache_key(auto_config, cpu)
    for part in ("Intel(R) Xeon(R) Processor", "avx512f", "avx512_bf16", "amx_tile", "x2", "28px", "b64",
                 "float32", "jax "):
        assert part in key
    assert "sse" not in key  # only the flags that change which formulation wins
    other = autotune.cache_key(auto_config, autotune.cpu_id_from(EPYC_AVX2, cores=2))
    assert other != key and "AMD EPYC 7B13 [avx2,fma]" in other
    assert autotune.cache_key(dataclasses.replace(auto_config, batch_size=128), cpu) != key
    arm = autotune.cpu_id_from(ARM, cores=4)
    assert arm.isa == ("asimd", "sve", "bf16") and arm.model  # no model name: the platform's
    here = autotune.cpu_id()
    assert here.model and here.cores >= 1


def test_cache_round_trip_in_tmp_path(cache, auto_config):
    assert autotune.cache_path() == str(cache)
    assert autotune.read_cache(str(cache)) == {}
    autotune.write_entry(str(cache), "k1", {"spec": "small=lax", "median_ms": {"": 10.0}})
    autotune.write_entry(str(cache), "k2", {"spec": ""})
    assert autotune.read_cache(str(cache)) == {"k1": {"spec": "small=lax", "median_ms": {"": 10.0}},
                                              "k2": {"spec": ""}}
    assert json.loads(cache.read_text())["format"] == autotune.FORMAT
    assert sorted(os.listdir(cache.parent)) == [autotune.CACHE_FILE]  # no temporary file left behind


def test_chosen_policy_is_the_argmin_of_the_timings(auto_config):
    times = {"": [0.10, 0.11, 0.12], "small=lax": [0.09, 0.30, 0.095], "winograd_tile=4": [0.2, 0.2, 0.2]}
    assert autotune.choose(times) == "small=lax"  # medians 0.11, 0.095, 0.2
    assert autotune.choose({"": [0.1], "small=lax": [0.2]}) == ""
    # Inside the margin the default (the first) stays; with no margin the argmin wins.
    close = {"": [0.100], "small=lax": [0.099]}
    assert autotune.choose(close) == "" and autotune.choose(close, margin=0.0) == "small=lax"
    measure = FakeMeasure({"": [3.0, 3.0], "small=lax": [2.0, 2.1], "small=patches": [1.0, 5.0, 1.1],
                           "winograd_tile=4": [4.0]})
    ticks = iter([100.0, 104.5])
    result = autotune.autotune(auto_config, measure, candidates=list(measure.times), clock=lambda: next(ticks))
    assert result.spec == "small=patches" and result.seconds == 4.5
    assert measure.calls == [list(measure.times)]
    failing = FakeMeasure({"": [1.0]}, failed={"small=lax": "XlaRuntimeError: boom"})
    result = autotune.autotune(auto_config, failing, candidates=["", "small=lax"])
    assert result.spec == "" and result.failed == {"small=lax": "XlaRuntimeError: boom"}
    with pytest.raises(autotune.NothingTimed, match="no candidate policy could be timed"):
        autotune.autotune(auto_config, FakeMeasure({}, failed={"": "KeyError: 'image'"}), candidates=[""])


def test_auto_resolves_via_the_cache_without_timing_again(cache, auto_config, monkeypatch):
    from gan_jax import models

    measure = FakeMeasure({"": [2.0, 2.0, 2.0], "small=lax": [1.0, 1.0, 1.0], "small=patches": [3.0],
                           "winograd_tile=4": [4.0], "forward=lax,transpose=lax,wgrad=lax": [5.0]})
    lines = []
    spec, result = autotune.resolve(auto_config, measure, log=lines.append)
    assert spec == "small=lax" and result.spec == "small=lax" and len(measure.calls) == 1
    assert measure.calls[0] == list(autotune.CANDIDATES)
    entry = autotune.read_cache(str(cache))[autotune.cache_key(auto_config)]
    assert entry["spec"] == "small=lax" and entry["median_ms"]["small=lax"] == 1000.0
    assert entry["cpu"]["model"] == autotune.cpu_id().model
    assert "chose 'small=lax'" in lines[-1]

    autotune.forget()  # a new process: only the file remembers
    lines.clear()
    assert autotune.resolve(auto_config, measure, log=lines.append) == ("small=lax", None)
    assert len(measure.calls) == 1 and len(lines) == 1 and "cached in" in lines[0]
    g, d = models.build(auto_config)
    assert g.conv_policy == d.conv_policy == ops.parse_policy("small=lax")
    assert ops.policy_for(auto_config) == ops.parse_policy("small=lax")
    # Another setting has no entry yet: policy_for (a lookup only, safe while tracing) gives the default.
    assert ops.policy_for(dataclasses.replace(auto_config, batch_size=32)) is ops.DEFAULT_POLICY
    assert ops.policy_for(dataclasses.replace(auto_config, fast_conv=False)) is ops.PLAIN
    # force: measured again.
    autotune.resolve(auto_config, measure, force=True, log=lines.append)
    assert len(measure.calls) == 2


def test_corrupted_cache_is_measured_again_with_a_warning(cache, auto_config):
    cache.parent.mkdir(parents=True)
    cache.write_text("{not json")
    with pytest.raises(autotune.CacheError, match="JSONDecodeError"):
        autotune.read_cache(str(cache))
    with pytest.warns(UserWarning, match="autotune cache is unreadable"):
        assert ops.policy_for(auto_config) is ops.DEFAULT_POLICY  # a lookup: warns, falls back, no crash
    measure = FakeMeasure({s: [1.0 + i] for i, s in enumerate(autotune.CANDIDATES)})
    with pytest.warns(UserWarning, match="measuring again and rewriting it"):
        assert autotune.resolve(auto_config, measure, log=lambda m: None)[0] == ""
    assert len(measure.calls) == 1
    assert autotune.read_cache(str(cache))[autotune.cache_key(auto_config)]["spec"] == ""
    cache.write_text(json.dumps({"format": 1, "entries": {"k": "not an entry"}}))
    with pytest.raises(autotune.CacheError, match="not an autotune cache"):
        autotune.read_cache(str(cache))


def test_unwritable_cache_warns_and_keeps_the_choice(tmp_path, monkeypatch, auto_config):
    blocker = tmp_path / "file"
    blocker.write_text("")
    monkeypatch.setenv("GAN_JAX_CACHE", str(blocker))  # a file where the directory should be
    autotune.forget()
    try:
        with pytest.warns(UserWarning, match="could not write the autotune cache"):
            spec, _ = autotune.resolve(auto_config, FakeMeasure({"": [2.0], "small=lax": [1.0]}),
                                       candidates=["", "small=lax"], log=lambda m: None)
        assert spec == "small=lax" and ops.policy_for(auto_config) == ops.parse_policy("small=lax")
    finally:
        autotune.forget()


def test_auto_does_nothing_off_the_cpu(cache, auto_config, monkeypatch):
    import jax

    monkeypatch.setattr(jax, "default_backend", lambda: "gpu")
    measure = FakeMeasure({"": [1.0]})
    assert autotune.resolve(auto_config, measure) == ("", None) and measure.calls == []
    assert ops.policy_for(auto_config) is ops.DEFAULT_POLICY
    assert not cache.exists()


def test_bad_conv_policy_values_name_the_option(auto_config):
    assert configs.validate(auto_config).conv_policy == "auto"
    for bad, message in [("autox", "'autox': expected field=value"), ("auto,small=lax", "'auto': expected field=value"),
                         ("winograd_tile=3", "winograd_tile=3: expected 2, 4 or auto"),
                         ("forward=bogus", "forward=bogus: expected one of auto, lax"),
                         ("small=nope", "small=nope: expected one of"),
                         ("batch_split=0", "batch_split=0: expected an integer >= 1"),
                         ("tile=4", "tile: unknown field")]:
        with pytest.raises(UserError, match=re.escape(f"conv_policy='{bad}': ") + ".*" + re.escape(message)
                           + ".*" + re.escape("(conv_policy: expected '' (the default), 'auto' (the autotuned")):
            configs.validate(configs.override(auto_config, [f"conv_policy={bad}"]))
    with pytest.raises(ValueError, match="auto: the autotuned policy"):
        ops.parse_policy("auto")
    # The policies the benchmarks build still parse from their text form.
    from gan_jax.bench.levers import VARIANTS

    for name, (_, choices, _) in VARIANTS.items():
        if choices is not None:
            policy = dataclasses.replace(ops.DEFAULT_POLICY, **choices)
            assert ops.parse_policy(ops.policy_spec(policy)) == policy, name


def test_gan_jax_train_resolves_auto_before_training(cache, monkeypatch, tmp_path):
    """`gan-jax train --set conv_policy=auto` times the candidates once (here a fake timer), then
    trains with the chosen policy; the next run reads the cache."""
    import gan_jax.bench.autotune as bench_autotune
    import gan_jax.train
    from gan_jax import cli

    measure = FakeMeasure({"": [2.0], "small=lax": [2.0], "small=patches": [1.0], "winograd_tile=4": [3.0],
                           "forward=lax,transpose=lax,wgrad=lax": [9.0]})
    monkeypatch.setattr(bench_autotune, "measure_steps", measure)
    seen = []

    def fake_train(config, workdir, **kwargs):
        seen.append((config.conv_policy, ops.policy_for(config)))
        return "trained"

    monkeypatch.setattr(gan_jax.train, "train", fake_train)
    argv = ["--workdir", str(tmp_path / "run"), "--steps", "2", "--no-progress", "--set", "conv_policy=auto"]
    assert cli.run_train(argv) == "trained"
    assert seen == [("auto", ops.parse_policy("small=patches"))] and len(measure.calls) == 1
    autotune.forget()
    assert cli.run_train(argv) == "trained"
    assert len(measure.calls) == 1 and seen[-1][1] == ops.parse_policy("small=patches")


def test_bench_autotune_prints_what_it_chose_and_measured(cache, monkeypatch, capsys, tmp_path):
    import gan_jax.bench.autotune as bench_autotune
    from gan_jax import cli

    times = {"": [0.10, 0.10], "small=lax": [0.08, 0.09], "small=patches": [0.2, 0.2],
             "winograd_tile=4": [0.3, 0.3], "forward=lax,transpose=lax,wgrad=lax": [0.5, 0.5]}
    monkeypatch.setattr(bench_autotune, "measure_steps", lambda config, specs, log=None: (
        {s: times[s] for s in specs}, {}))
    out_json = tmp_path / "a.json"
    assert cli.main(["bench", "--autotune", "--settings", "dcgan28:64", "--json", str(out_json)]) == 0
    out = capsys.readouterr().out
    assert "| candidate (conv_policy) | ms per step, median (min–max) | × default | chosen |" in out
    assert "| small=lax | 85.0 (80.0–90.0) | 1.18 | **yes** |" in out
    assert "| (default) | 100.0 (100.0–100.0) | 1.00 |  |" in out
    assert str(cache) in out
    saved = json.loads(out_json.read_text())
    assert saved["settings"]["dcgan28:64"]["chosen"] == "small=lax"
    # The same cache entry as dcgan_mnist's (28 px, 1 channel, width 64, batch 64).
    mnist = configs.override(configs.get("dcgan_mnist"), ["conv_policy=auto"])
    assert autotune.lookup(mnist) == "small=lax"


def test_measure_steps_times_the_real_step(tiny_config):
    """The real timing on a tiny DCGAN: every candidate built, compiled and timed in turn."""
    from gan_jax.bench.autotune import measure_steps

    times, failed = measure_steps(tiny_config, ["", "small=lax"], rounds=2, min_rounds=1, warmup=0)
    assert failed == {} and set(times) == {"", "small=lax"}
    assert all(len(t) == 2 and all(x > 0 for x in t) for t in times.values())
    times, failed = measure_steps(dataclasses.replace(tiny_config, task="pix2pix", model="unet"), [""])
    assert times == {} and "" in failed  # a task whose batch is not images: nothing timed, no crash
    # Self-conditioned (the default config's kind): D reads cluster labels, so the batch has them.
    times, failed = measure_steps(dataclasses.replace(tiny_config, cluster_code=4), [""], rounds=1, min_rounds=1,
                                  warmup=0)
    assert failed == {} and len(times[""]) == 1
