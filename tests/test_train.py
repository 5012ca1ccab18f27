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

from gan_jax import logger, tasks
from gan_jax.checkpoint import Checkpoints, signature
from gan_jax.tasks import abstract_state
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
    source = tasks.data_source(config)
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
    cmd = [sys.executable, "-m", "gan_jax.cli", "train", "--config", "dcgan_mnist", "--workdir", workdir,
           "--steps", "100000", "--no-progress", "--set", "g_width=8", "--set", "d_width=8", "--set", "batch_size=8",
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


def _damage_largest_file(step_dir):
    files = [os.path.join(r, f) for r, _, fs in os.walk(step_dir) for f in fs]
    path = max(files, key=os.path.getsize)
    with open(path, "r+b") as f:  # bytes overwritten a third into the file, as a user did
        f.seek(os.path.getsize(path) // 3)
        f.write(os.urandom(64))


def test_only_unreadable_checkpoints_say_how_to_go_on_and_restart(tiny_config, tmp_path, capsys):
    from gan_jax.errors import UserError

    config = dataclasses.replace(tiny_config, parallel="jit")
    workdir = str(tmp_path / "run")
    ckdir = os.path.join(workdir, "checkpoints")
    train(config, workdir, progress=False)  # checkpoints 2 and 4
    fresh_2 = [np.asarray(x) for x in jax.tree.leaves(_restore(config, workdir, 2))]
    for s in (2, 4):
        _damage_largest_file(os.path.join(ckdir, str(s)))
    for _ in range(2):  # says so every time, and moves nothing
        with pytest.raises(UserError) as e:
            train(dataclasses.replace(config, steps=6), workdir, progress=False)
        msg = str(e.value)
        assert "\n" not in msg and f"no readable checkpoint in {ckdir}: all 2 are damaged" in msg
        assert "gan-jax train with --restart" in msg and "restart=True" in msg and f"{ckdir}.damaged-<time>/" in msg
        assert sorted(os.listdir(ckdir)) == ["2", "4"]
    capsys.readouterr()
    result = train(dataclasses.replace(config, steps=2), workdir, progress=False, restart=True)
    err = capsys.readouterr().err
    assert result.step == 2 and "restarting" in err and "resuming" not in err
    moved = [d for d in os.listdir(workdir) if d.startswith("checkpoints.damaged-")]
    assert len(moved) == 1 and moved[0] in err and sorted(os.listdir(os.path.join(workdir, moved[0]))) == ["2", "4"]
    assert sorted(os.listdir(ckdir)) == ["2"]
    assert [r["step"] for r in logger.read(os.path.join(workdir, "metrics.jsonl"))] == [2]  # the log starts over
    for a, b in zip(jax.tree.leaves(_restore(config, workdir, 2)), fresh_2):  # from step 0: the fresh run again
        np.testing.assert_array_equal(np.asarray(a), b)
    # With a readable checkpoint, restart=True resumes as usual.
    assert train(config, workdir, progress=False, restart=True).step == 4
    assert "resuming" in capsys.readouterr().err


def test_checkpoints_also_every_checkpoint_minutes(tiny_config, tmp_path):
    from gan_jax.errors import UserError

    config = dataclasses.replace(tiny_config, parallel="jit", steps=6, checkpoint_every=1000, keep_checkpoints=100)
    timed = train(dataclasses.replace(config, checkpoint_minutes=1e-9), str(tmp_path / "timed"), progress=False)
    assert sorted(map(int, os.listdir(tmp_path / "timed" / "checkpoints"))) == [1, 2, 3, 4, 5, 6]
    assert timed.checkpoints == 6 and timed.checkpoint_seconds > 0
    off = train(dataclasses.replace(config, checkpoint_minutes=0), str(tmp_path / "off"), progress=False)
    assert os.listdir(tmp_path / "off" / "checkpoints") == ["6"] and off.checkpoints == 1
    a, b = _restore(config, str(tmp_path / "timed")), _restore(config, str(tmp_path / "off"))
    for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b)):  # saving does not change the run
        np.testing.assert_array_equal(np.asarray(x), np.asarray(y))
    with pytest.raises(UserError, match="checkpoint_minutes=-1"):
        train(dataclasses.replace(config, checkpoint_minutes=-1.0), str(tmp_path / "bad"), progress=False)


def test_a_signal_before_train_stops_it_before_it_starts(tiny_config, tmp_path):
    import threading

    from gan_jax.train import stop_signals

    workdir = str(tmp_path / "run")
    with stop_signals(["SIGTERM"]):  # kept by a command line's own handler during its start-up
        result = train(tiny_config, workdir, progress=False)
    assert result.stopped_by_signal == "SIGTERM" and result.step == 0 and not os.path.exists(workdir)
    if threading.current_thread() is threading.main_thread():
        before = signal.getsignal(signal.SIGTERM)
        with stop_signals() as stop:
            os.kill(os.getpid(), signal.SIGTERM)  # sets the flag; interrupts nothing
            for _ in range(100):
                if stop.received:
                    break
                time.sleep(0.01)
            assert stop.received == "SIGTERM"
            with stop_signals() as inner:  # nested: the same flag
                assert inner is stop
        assert signal.getsignal(signal.SIGTERM) is before


def test_sigterm_waits_for_the_save_in_flight(tmp_path):
    """Asynchronous saves after almost every step (checkpoint_minutes ~ 6 ms): SIGTERM exits 0
    with its checkpoint written, and every checkpoint left restores."""
    workdir = str(tmp_path / "run")
    cmd = [sys.executable, "-m", "gan_jax.cli", "train", "--config", "dcgan_mnist", "--workdir", workdir,
           "--steps", "100000", "--no-progress", "--set", "g_width=8", "--set", "d_width=8", "--set", "batch_size=8",
           "--set", "log_every=1", "--set", "checkpoint_every=100000", "--set", "sample_every=100000",
           "--set", "checkpoint_minutes=0.0001", "--set", "keep_checkpoints=1000", "--set", "parallel=jit"]
    env = {**os.environ, "XLA_FLAGS": QUICK_COMPILE_FLAGS}
    proc = subprocess.Popen(cmd, stderr=subprocess.PIPE, text=True, env=env)
    try:
        path = os.path.join(workdir, "metrics.jsonl")
        assert _wait_for_metrics(path, 120), "training did not start"
        end = time.time() + 60
        while time.time() < end and len(logger.read(path)) < 5:
            time.sleep(0.05)
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=120)
    finally:
        proc.kill()
    assert proc.returncode == 0, err
    stopped = int(err.split("stopped by SIGTERM after step ")[1].split(";")[0])
    names = os.listdir(os.path.join(workdir, "checkpoints"))
    assert all(n.isdigit() for n in names), names  # no write left unfinished
    steps = sorted(map(int, names))
    assert steps[-1] == stopped and len(steps) >= 3
    from gan_jax import configs
    config = configs.validate(configs.override(configs.get("dcgan_mnist"), ["g_width=8", "d_width=8"]))
    with Checkpoints(os.path.join(workdir, "checkpoints")) as ckpts:
        for s in steps:
            assert int(ckpts.restore(abstract_state(config), signature(config), s, warn=False)[0].step) == s
