"""Every parallel path computes what one device computes: pmap, sharding, shard_map,
fused steps, population members, and two processes joined by jax.distributed."""
import dataclasses
import os
import socket
import subprocess
import sys

import jax
import numpy as np
import pytest

from gan_jax.checkpoint import restore_run
from gan_jax.cli import main as cli_main
from gan_jax.configs import member_configs, validate
from gan_jax.errors import UserError
from gan_jax.parallel import make_parallel_step, member_state, resolve_mode, stack_trees
from gan_jax.tasks import init_state
from gan_jax.tasks import make_train_step
from gan_jax.train import train
from gan_jax.workdir import load_config
from conftest import QUICK_COMPILE_FLAGS
from treediff import rel_diff

STEPS = 3


def _batches(config, n=STEPS, seed=0):
    rng = np.random.default_rng(seed)
    shape = (config.real_batch_size, config.resolution, config.resolution, config.channels)
    return [{"image": rng.uniform(-1, 1, shape).astype(np.float32)} for _ in range(n)]


def _single_device(config, batches):
    state, step = init_state(config), jax.jit(make_train_step(config))
    for batch in batches:
        state, _ = step(state, batch)
    return state


def _assert_same_state(state, reference, tol=1e-5):
    assert int(np.ravel(state.step)[0]) == int(reference.step)
    for name in ("g_params", "d_params", "g_stats", "d_stats"):
        assert rel_diff(getattr(state, name), getattr(reference, name)) <= tol, name


@pytest.fixture
def config(tiny_config):
    return dataclasses.replace(tiny_config, batch_size=16)


@pytest.mark.parametrize("mode", ["pmap", "sharding", "shard_map"])
def test_every_path_over_4_devices_equals_one_device_after_3_steps(config, mode):
    batches = _batches(config)
    runner = make_parallel_step(config, mode)
    assert runner.num_devices == 4
    state = runner.put_state(init_state(config))
    for batch in batches:
        state, metrics = runner.step(state, runner.put_batch(batch))
    _assert_same_state(runner.get_state(state), _single_device(config, batches))
    assert np.ndim(runner.get_metrics(metrics)["d_loss"]) == 0


@pytest.mark.parametrize("mode", ["pmap", "sharding"])
def test_fresh_real_batches_per_critic_update_over_4_devices_equal_one_device(config, mode):
    # [n_critic * B] rows per step; each device takes its rows of every critic update's batch.
    config = dataclasses.replace(config, n_critic=2, fresh_reals=True)
    batches = _batches(config, n=2)
    assert batches[0]["image"].shape[0] == 32
    runner = make_parallel_step(config, mode)
    state = runner.put_state(init_state(config))
    for batch in batches:
        state, _ = runner.step(state, runner.put_batch(batch))
    _assert_same_state(runner.get_state(state), _single_device(config, batches))


@pytest.mark.parametrize("mode", ["jit", "sharding"])
def test_fused_steps_equal_single_steps(config, mode):
    batches = _batches(config)
    fused = dataclasses.replace(config, steps_per_call=STEPS)
    runner = make_parallel_step(fused, mode)
    state, metrics = runner.step(runner.put_state(init_state(fused)), runner.put_batch(stack_trees(batches)))
    _assert_same_state(runner.get_state(state), _single_device(config, batches))
    assert runner.get_metrics(metrics)["d_loss"].shape == (STEPS,)  # one value per fused step


def test_population_member_equals_its_solo_run(tiny_config):
    pop = dataclasses.replace(tiny_config, population=2, population_lr_g="1e-4,5e-4", population_lr_d="3e-4,2e-4")
    members = member_configs(pop)
    assert [(m.seed, m.lr_g, m.lr_d) for m in members] == [(0, 1e-4, 3e-4), (1, 5e-4, 2e-4)]
    data = [_batches(m, 2, seed=10 + i) for i, m in enumerate(members)]
    runner = make_parallel_step(pop, "jit")
    state = runner.put_state(init_state(pop))
    for k in range(2):
        state, metrics = runner.step(state, runner.put_batch(stack_trees([d[k] for d in data])))
    assert metrics["d_loss"].shape == (2,)
    for i, member in enumerate(members):
        _assert_same_state(member_state(state, i, 2), _single_device(member, data[i]), tol=1e-6)
    # Different seeds and rates: the members really differ.
    assert rel_diff(member_state(state, 0, 2).g_params, member_state(state, 1, 2).g_params) > 0.1


def test_bad_parallel_options_are_clear(tiny_config):
    with pytest.raises(UserError, match="parallel='tpu'"):
        resolve_mode("tpu")
    with pytest.raises(UserError, match="population_lr_g=.*2 comma-separated"):
        validate(dataclasses.replace(tiny_config, population=2, population_lr_g="1e-4"))
    with pytest.raises(UserError, match="sample_every=2: expected a multiple of steps_per_call=3"):
        validate(dataclasses.replace(tiny_config, steps_per_call=3, log_every=3, checkpoint_every=3))
    with pytest.raises(UserError, match="population=2: runs under parallel=jit or sharding"):
        make_parallel_step(dataclasses.replace(tiny_config, population=2), "pmap")
    with pytest.raises(UserError, match="population=2: must be divisible by the number of devices"):
        make_parallel_step(dataclasses.replace(tiny_config, population=2), "sharding").check_batch_size(8)


def test_auto_uses_sharding_with_several_devices():
    assert jax.device_count() == 4 and resolve_mode("auto") == "sharding"


def test_population_run_writes_each_members_samples_and_metrics(tiny_config, tmp_path, capsys):
    pop = dataclasses.replace(tiny_config, population=4, parallel="sharding", steps=2)
    result = train(pop, str(tmp_path), progress=False)
    assert result.step == 2
    for i in range(4):
        member_dir = tmp_path / "members" / str(i)
        assert (member_dir / "samples" / "step_0000002.png").is_file()
        assert '"step": 2' in (member_dir / "metrics.jsonl").read_text()
    state, _ = restore_run(str(tmp_path), pop)
    assert state.step.shape == (4,) and list(state.step) == [2, 2, 2, 2]
    # The CLI samples one member at a time.
    out = str(tmp_path / "member3.npy")
    assert cli_main(["sample", "--workdir", str(tmp_path), "--num", "4", "--out", out, "--member", "3"]) == 0
    assert np.load(out).shape == (4, 28, 28, 1)
    assert cli_main(["sample", "--workdir", str(tmp_path), "--num", "4", "--out", out]) == 2
    assert "population of 4 GANs; expected --member 0..3" in capsys.readouterr().err


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_two_processes_equal_one_device_and_resume(tmp_path):
    """2 processes x 2 CPU devices (jax.distributed, gloo) == 1 device, also after a resume."""
    flags = ["--config", "dcgan_mnist", "--batch-size", "8", "--set", "g_width=8", "--set", "d_width=8", "--set", "z_dim=16",
             "--set", "grid_size=4", "--set", "log_every=1", "--set", "sample_every=3",
             "--set", "checkpoint_every=3", "--no-progress"]
    multi = str(tmp_path / "multi")
    env = {**os.environ, "XLA_FLAGS": "--xla_force_host_platform_device_count=2 "
           "--xla_cpu_collective_call_terminate_timeout_seconds=900 " + QUICK_COMPILE_FLAGS,
           "JAX_PLATFORMS": "cpu"}

    def run_two(steps):
        port = _free_port()
        cmd = [sys.executable, "-m", "gan_jax.cli", "train", "--workdir", multi, "--steps", str(steps), *flags,
               "--set", "parallel=sharding", "--coordinator", f"127.0.0.1:{port}", "--num-processes", "2"]
        procs = [subprocess.Popen([*cmd, "--process-id", str(i)], env=env, stdout=subprocess.PIPE,
                                  stderr=subprocess.STDOUT, text=True) for i in range(2)]
        try:
            outs = [p.communicate(timeout=240)[0] for p in procs]
        finally:
            for p in procs:
                p.kill()
        assert [p.returncode for p in procs] == [0, 0], outs

    run_two(3)
    run_two(6)  # resumes from the checkpoint at step 3
    config = dataclasses.replace(load_config(multi), parallel="jit")  # the same run on one device
    assert config.steps == 6 and config.batch_size == 8
    single = str(tmp_path / "single")
    train(config, single, progress=False)
    a, _ = restore_run(multi, config)
    b, _ = restore_run(single, config)
    _assert_same_state(a, b)
    assert len(open(os.path.join(multi, "metrics.jsonl")).readlines()) == 6  # one writer, no duplicates


def test_sharding_splits_the_generators_work_over_the_devices(config):
    """Under parallel=sharding no layer runs on the whole global batch: the latents the
    step draws itself are laid out like the batch, so each device generates only its rows."""
    import re
    config = dataclasses.replace(config, batch_size=24)  # 6 rows per device: unlike any weight dimension
    runner = make_parallel_step(config, "sharding")
    batch = runner.put_batch(_batches(config, 1)[0])
    hlo = runner.step.lower(runner.put_state(init_state(config)), batch).compile().as_text()
    # Every [B, H, W, C] activation of the per-device program (kernels lead with their size, 4 or 7).
    leading = {int(d) for d in re.findall(r"= f32\[(\d+),\d+,\d+,\d+\]\{", hlo)}
    assert 6 in leading, "expected per-device activations over 6 rows"
    assert 24 not in leading, "some layer runs on the whole global batch on every device"
