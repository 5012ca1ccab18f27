"""Fused steps started warm: single steps first, the K-step program compiled in a background
thread and switched to at a multiple of K (``gan_jax.train``). The switch must not change the
run: it ends where single steps all along end, resumes exactly, and is off where unsupported."""
import dataclasses
import importlib
import os
from concurrent import futures
import threading

import jax
import numpy as np
import pytest
from PIL import Image

from gan_jax import logger, parallel
from gan_jax.checkpoint import Checkpoints, signature
from gan_jax.configs import Config
from gan_jax.tasks import abstract_state
from gan_jax.train import train
from treediff import rel_diff

K = 2
train_module = importlib.import_module("gan_jax.train")  # the module (gan_jax.train is also the function)


def _final(config, workdir, step="latest"):
    return Checkpoints(os.path.join(workdir, "checkpoints")).restore(abstract_state(config), signature(config), step)[0]


def _assert_same_run(a, b, tol=1e-5):
    assert int(np.ravel(a.step)[0]) == int(np.ravel(b.step)[0])
    for name in ("g_params", "d_params", "g_stats", "d_stats", "ema", "g_opt", "d_opt"):
        assert rel_diff(getattr(a, name), getattr(b, name), allow_empty=True) <= tol, name
    np.testing.assert_array_equal(np.asarray(a.key), np.asarray(b.key))


@pytest.fixture
def switch_at(monkeypatch):
    """``switch_at(s)``: the background compile always starts, and the loop waits for it at
    step ``s`` (the first multiple of K from ``s`` on), so the switch happens exactly there."""
    monkeypatch.setattr(train_module, "FUSED_MIN_STEPS", 0)

    def at(step):
        monkeypatch.setattr(train_module, "_fused_ready", lambda future, s: s >= step and bool(futures.wait([future])))
    return at


def _config(tiny_config, **kw):
    return dataclasses.replace(tiny_config, **{**dict(steps=8, log_every=2, sample_every=4, checkpoint_every=4,
                                                      ema_decay=0.9, checkpoint_async=False), **kw})


@pytest.mark.parametrize("mode", ["jit", "sharding"])
def test_a_switch_mid_run_ends_where_single_steps_all_along_end(tiny_config, tmp_path, switch_at, mode):
    config = _config(tiny_config, parallel=mode)
    single = train(config, str(tmp_path / "single"), progress=False)
    assert single.fused_from is None
    switch_at(4)
    fused = train(dataclasses.replace(config, steps_per_call=K), str(tmp_path / "fused"), progress=False)
    assert fused.step == 8 and fused.fused_from == 4  # steps 1-4 one per call, 5-8 two per call
    _assert_same_run(_final(config, str(tmp_path / "fused")), _final(config, str(tmp_path / "single")))
    # Every log step is there, the means of single and fused calls alike.
    records = logger.read(os.path.join(str(tmp_path / "fused"), "metrics.jsonl"))
    assert [r["step"] for r in records] == [2, 4, 6, 8]
    for r, s in zip(records, logger.read(os.path.join(str(tmp_path / "single"), "metrics.jsonl"))):
        np.testing.assert_allclose(r["d_loss"], s["d_loss"], rtol=1e-4)
    assert sorted(os.listdir(os.path.join(str(tmp_path / "fused"), "checkpoints"))) == ["4", "8"]


def test_without_the_compile_ready_every_step_is_single_and_the_steps_need_not_be_a_multiple(tiny_config, tmp_path,
                                                                                               monkeypatch):
    # Fewer steps than FUSED_MIN_STEPS: no compile starts at all; 7 is no multiple of K.
    config = _config(tiny_config, parallel="jit", steps=7)
    result = train(dataclasses.replace(config, steps_per_call=K), str(tmp_path / "fused"), progress=False)
    assert result.step == 7 and result.fused_from is None
    train(config, str(tmp_path / "single"), progress=False)
    _assert_same_run(_final(config, str(tmp_path / "fused")), _final(config, str(tmp_path / "single")), tol=0)


def _digits(tmp_path, n=24):
    root = tmp_path / "digits"
    root.mkdir()
    rng = np.random.default_rng(1)
    for i in range(n):
        Image.fromarray(rng.integers(0, 256, (30, 28), dtype=np.uint8)).save(root / f"{i:02d}.png")
    return str(root)


@pytest.mark.parametrize("pipeline", ["memory", "grain:0"])
def test_resume_from_a_checkpoint_before_the_switch_is_exact(tiny_config, tmp_path, switch_at, pipeline):
    # The first run stops at step 3 (no multiple of K) with single steps only. The resumed one
    # runs step 4 alone (its first call, compiled alone: the background compile starts after
    # it, when the call from step 4 is already prepared), 5 and 6 alone, then 7-8 fused.
    # Grain resumes from its iterator state.
    config = _config(tiny_config, parallel="jit", dataset=f"folder:{_digits(tmp_path)}", input_pipeline=pipeline)
    train(config, str(tmp_path / "single"), progress=False)
    fused = dataclasses.replace(config, steps_per_call=K)
    run = str(tmp_path / "fused")
    first = train(dataclasses.replace(fused, steps=3), run, progress=False)
    assert first.step == 3 and first.fused_from is None
    if pipeline.startswith("grain"):
        (saved,) = Checkpoints(os.path.join(run, "checkpoints")).meta(3)["data"]
        assert saved["pipeline"] == "grain" and saved["step"] == 3
    switch_at(4)
    second = train(fused, run, progress=False)
    assert second.step == 8 and second.fused_from == 6
    _assert_same_run(_final(config, run), _final(config, str(tmp_path / "single")))
    # A run stopped at a multiple of K resumes the same way: 5 and 6 single, 7-8 fused.
    run2 = str(tmp_path / "fused2")
    train(dataclasses.replace(fused, steps=4), run2, progress=False)
    switch_at(0)
    assert train(fused, run2, progress=False).fused_from == 6
    _assert_same_run(_final(config, run2), _final(config, str(tmp_path / "single")))


def test_unsupported_runs_fuse_every_call_from_the_first(tiny_config, tmp_path, switch_at, monkeypatch):
    config = dataclasses.replace(tiny_config, steps_per_call=K, parallel="jit")
    assert parallel.fused_warm_start(config) is None
    assert "nothing to fuse" in parallel.fused_warm_start(dataclasses.replace(config, steps_per_call=1))
    assert parallel.fused_warm_start(dataclasses.replace(config, population=2)) == "population=2"
    assert parallel.fused_warm_start(dataclasses.replace(config, parallel="pmap")) == "parallel=pmap"
    with monkeypatch.context() as m:
        m.setattr(jax, "process_count", lambda: 2)
        assert "2 processes" in parallel.fused_warm_start(config)
    # A population: every call fused, from step 0; no background compile; steps a multiple of K.
    switch_at(10**9)  # would never switch: the run must not ask
    pop = dataclasses.replace(config, population=4, parallel="sharding", steps=4)
    result = train(pop, str(tmp_path / "pop"), progress=False)
    assert result.step == 4 and result.fused_from == 0
    assert not any(t.name.startswith("gan_jax-fused-compile") for t in threading.enumerate())
    with pytest.raises(Exception, match="steps=3: expected a multiple of steps_per_call=2"):
        train(dataclasses.replace(pop, steps=3), str(tmp_path / "pop3"), progress=False)


def test_the_step_is_traced_once_per_program_without_leaks(tiny_config, tmp_path, switch_at, monkeypatch):
    """No Python side effects inside jit: with tracer-leak checks on, the single-step program is
    traced at most twice (lowered ahead, then called) and the fused one once, in the compile
    thread; the 8 steps run no Python of the step."""
    traced = []
    make = parallel.make_train_step

    def counting(*args, **kw):
        step = make(*args, **kw)

        def wrapped(state, batch):
            traced.append(threading.current_thread().name)
            return step(state, batch)
        return wrapped

    monkeypatch.setattr(parallel, "make_train_step", counting)
    switch_at(2)
    jax.config.update("jax_check_tracer_leaks", True)
    try:
        result = train(_config(tiny_config, parallel="jit", steps_per_call=K), str(tmp_path / "run"), progress=False)
    finally:
        jax.config.update("jax_check_tracer_leaks", False)
    assert result.step == 8 and result.fused_from == 2
    in_thread = [t for t in traced if t.startswith("gan_jax-fused-compile")]
    assert len(in_thread) == 1, traced  # the scan traces its body once
    assert 1 <= len(traced) - len(in_thread) <= 2, traced


def test_a_failed_background_compile_goes_on_with_single_steps(tiny_config, tmp_path, switch_at, monkeypatch, capsys):
    def broken(self, state, batch):
        raise RuntimeError("no compiler today")
    monkeypatch.setattr(parallel.ParallelStep, "compile_ahead", broken)
    switch_at(2)
    config = _config(tiny_config, parallel="jit")
    result = train(dataclasses.replace(config, steps_per_call=K), str(tmp_path / "run"), progress=False)
    assert result.step == 8 and result.fused_from is None
    assert "compiling the fused program failed (RuntimeError: no compiler today)" in capsys.readouterr().err


def test_default_config_fits_a_warm_start():
    # Whatever K the default uses, its intervals are multiples of it (validate) and it warms up.
    from gan_jax import configs
    config = configs.get("dcgan_mnist")
    configs.validate(config)
    assert isinstance(config, Config)
    if config.steps_per_call > 1:
        assert parallel.fused_warm_start(dataclasses.replace(config, parallel="jit")) is None
