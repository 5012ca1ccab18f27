"""End-to-end training: run directory layout, resume, exact resume, SIGTERM, NaN guard."""
import dataclasses
import json
import os
import signal
import subprocess
import sys
import time

import jax
import numpy as np
import pytest

from gan_jax import logger
from gan_jax.checkpoint import Checkpoints, signature
from gan_jax.state import abstract_state
from gan_jax import data
from gan_jax.train import TrainingDiverged, train, train_in_memory

from conftest import QUICK_COMPILE_FLAGS


def _restore(config, workdir, step="latest"):
    return Checkpoints(os.path.join(workdir, "checkpoints")).restore(abstract_state(config), signature(config), step)[0]


def test_run_directory_layout_and_resume(tiny_config, tmp_path):
    workdir = str(tmp_path / "run")
    result = train(tiny_config, workdir, progress=False)
    assert result.step == 4 and result.stopped_by_signal is None
    assert json.load(open(os.path.join(workdir, "config.json")))["g_width"] == 8
    assert sorted(os.listdir(os.path.join(workdir, "samples"))) == ["step_0000002.png", "step_0000004.png"]
    assert sorted(os.listdir(os.path.join(workdir, "checkpoints"))) == ["2", "4"]
    assert any(f.startswith("events.out.tfevents") for f in os.listdir(os.path.join(workdir, "tensorboard")))
    records = logger.read(os.path.join(workdir, "metrics.jsonl"))
    assert [r["step"] for r in records] == [2, 4]
    assert {"d_loss", "g_loss", "d_real", "d_fake", "images_per_sec"} <= set(records[0])

    # A larger --steps continues the same run from its latest checkpoint.
    result = train(dataclasses.replace(tiny_config, steps=6), workdir, progress=False)
    assert result.step == 6
    assert [r["step"] for r in logger.read(os.path.join(workdir, "metrics.jsonl"))] == [2, 4, 6]
    assert int(_restore(tiny_config, workdir).step) == 6
    # Nothing left to do: returns at once.
    assert train(dataclasses.replace(tiny_config, steps=6), workdir, progress=False).step == 6


def test_exact_resume_bit_for_bit(tiny_config, tmp_path):
    config = dataclasses.replace(tiny_config, steps=6, checkpoint_every=3, ema_decay=0.9, parallel="jit")
    train(config, str(tmp_path / "once"), progress=False)
    train(dataclasses.replace(config, steps=3), str(tmp_path / "twice"), progress=False)
    train(config, str(tmp_path / "twice"), progress=False)
    a, b = _restore(config, str(tmp_path / "once")), _restore(config, str(tmp_path / "twice"))
    assert int(a.step) == int(b.step) == 6
    for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b)):
        np.testing.assert_array_equal(np.asarray(x), np.asarray(y))


def test_train_in_memory_is_the_train_loop_without_a_run_directory(tiny_config, tmp_path):
    # Two critic updates on fresh real batches: both loops must read 2 x batch_size images a step.
    config = dataclasses.replace(tiny_config, parallel="jit", n_critic=2, fresh_reals=True)
    train(config, str(tmp_path / "run"), progress=False)
    source = data.source_for(config)
    stops = []
    for step, state, seconds in train_in_memory(config, source, [4, 2]):
        stops.append(step)
        assert seconds > 0 and int(state.step) == step
        if step == 2:
            expected = _restore(config, str(tmp_path / "run"), 2)
        else:
            expected = _restore(config, str(tmp_path / "run"))
        for x, y in zip(jax.tree.leaves(state), jax.tree.leaves(expected)):
            np.testing.assert_array_equal(np.asarray(x), np.asarray(y))
    assert stops == [2, 4]
    with pytest.raises(ValueError, match="positive"):
        train_in_memory(config, source, [0, 3])
    with pytest.raises(ValueError, match="population=2"):
        train_in_memory(dataclasses.replace(config, population=2), source, [1])


def test_nonfinite_stops_with_message(tiny_config, tmp_path):
    config = dataclasses.replace(tiny_config, lr_d=1e30, lr_g=1e30, steps=8)
    with pytest.raises(TrainingDiverged, match=r"non-finite .* at step \d+"):
        train(config, str(tmp_path / "run"), progress=False)


def test_nonfinite_skip_keeps_training(tiny_config, tmp_path):
    config = dataclasses.replace(tiny_config, lr_d=1e30, lr_g=1e30, steps=8, nonfinite="skip")
    assert train(config, str(tmp_path / "run"), progress=False).step == 8
    state = _restore(config, str(tmp_path / "run"))
    assert int(state.nonfinite_step) >= 0
    assert all(np.all(np.isfinite(np.asarray(x))) for x in jax.tree.leaves(state.g_params))


def _wait_for_metrics(path, timeout):
    end = time.time() + timeout
    while time.time() < end:
        if logger.read(path):
            return True
        time.sleep(0.2)
    return False


def test_sigterm_checkpoints_and_exits_cleanly(tmp_path):
    workdir = str(tmp_path / "run")
    cmd = [sys.executable, "-m", "gan_jax.cli", "train", "--workdir", workdir, "--steps", "100000",
           "--no-progress", "--set", "g_width=8", "--set", "d_width=8", "--set", "batch_size=8",
           "--set", "log_every=1", "--set", "checkpoint_every=100000", "--set", "sample_every=100000",
           "--set", "parallel=jit"]
    env = {**os.environ, "XLA_FLAGS": QUICK_COMPILE_FLAGS}
    proc = subprocess.Popen(cmd, stderr=subprocess.PIPE, text=True, env=env)
    try:
        assert _wait_for_metrics(os.path.join(workdir, "metrics.jsonl"), 120), "training did not start"
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=120)
    finally:
        proc.kill()
    assert proc.returncode == 0, err
    assert "stopped by SIGTERM after step" in err
    stopped = int(err.split("stopped by SIGTERM after step ")[1].split(";")[0])
    assert stopped >= 1
    assert os.listdir(os.path.join(workdir, "checkpoints")) == [str(stopped)]
    # Running it again continues from there.
    more = str(stopped + 2)
    cmd[cmd.index("100000")] = more
    done = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stderr
    assert f"resuming {workdir} from step {stopped}" in done.stderr
    assert f"done: {more} steps" in done.stderr


def test_resume_after_damaged_latest_checkpoint(tiny_config, tmp_path, capsys):
    config = dataclasses.replace(tiny_config, parallel="jit")
    workdir = str(tmp_path / "run")
    train(config, workdir, progress=False)  # checkpoints 2 and 4
    state_dir = os.path.join(workdir, "checkpoints", "4", "state")
    for root, _, files in os.walk(state_dir):
        for f in files:
            open(os.path.join(root, f), "wb").close()  # zero every file
    result = train(dataclasses.replace(config, steps=6), workdir, progress=False)
    err = capsys.readouterr().err
    assert "unreadable checkpoint moved to" in err and "resuming" in err and "from step 2" in err
    assert result.step == 6
    assert sorted(os.listdir(os.path.join(workdir, "checkpoints"))) == ["2", "4", "6"]
    assert int(_restore(config, workdir, 4).step) == 4  # rewritten, readable again
