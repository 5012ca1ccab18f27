"""Start-up of ``gan-jax train``: work overlapped or deferred, with the same results."""
import dataclasses
import os
import subprocess
import sys
import time

import jax
import numpy as np
import pytest

from gan_jax.checkpoint import Checkpoints
from gan_jax.parallel import ParallelStep
from gan_jax.tasks import abstract_state, init_state, init_state_async
from gan_jax.train import train


@pytest.mark.parametrize("population", [1, 2])
def test_init_state_async_is_init_state(tiny_config, population):
    config = dataclasses.replace(tiny_config, population=population)
    future, shapes = init_state_async(config, seed=3)
    state = future.result()
    expected = init_state(config, seed=3)
    assert jax.tree.structure(state) == jax.tree.structure(expected) == jax.tree.structure(shapes)
    for x, y, s in zip(jax.tree.leaves(state), jax.tree.leaves(expected), jax.tree.leaves(shapes)):
        np.testing.assert_array_equal(np.asarray(x), np.asarray(y))
        assert (x.shape, x.dtype) == (s.shape, s.dtype)
    assert jax.tree.map(lambda a: (a.shape, a.dtype), shapes) == \
        jax.tree.map(lambda a: (a.shape, a.dtype), abstract_state(config))


@pytest.mark.parametrize("parallel", ["jit", "sharding", "shard_map"])
def test_fresh_run_lowers_its_step_once_while_the_init_compiles(tiny_config, tmp_path, monkeypatch, parallel):
    """The step is lowered ahead (``ParallelStep.lower_ahead``) for the state's shapes, and the
    first call runs that lowering: a mismatch (shardings, weak types) would lower it again."""
    lowered, ahead = [], []

    def listen(name, secs, fun_name="", **kw):
        if name == "/jax/core/compile/jaxpr_to_mlir_module_duration":
            lowered.append(fun_name)

    def lower_ahead(self, abstract_state, device_batch):
        original(self, abstract_state, device_batch)
        ahead.append(lowered.count("jit(step)"))

    original = ParallelStep.lower_ahead
    monkeypatch.setattr(ParallelStep, "lower_ahead", lower_ahead)
    jax.monitoring.register_event_duration_secs_listener(listen)
    try:
        t0 = time.time()
        result = train(dataclasses.replace(tiny_config, parallel=parallel, steps=2), str(tmp_path / "run"),
                       progress=False)
    finally:
        jax.monitoring.unregister_event_duration_listener(listen)
    assert ahead == [1], (ahead, lowered)  # lowered once, ahead of the state
    assert lowered.count("jit(step)") == 1, lowered  # and not again by the calls
    assert t0 < result.first_step_at < time.time()


def test_tensorboard_writer_is_imported_without_torch(tmp_path):
    """tensorboardX's writer runs `import torch` (~1 s with torch installed); the logger hides
    torch while importing it, and torch imports normally afterwards. A stand-in `torch` on
    the path records whether it was imported."""
    fake = tmp_path / "fake"
    fake.mkdir()
    (fake / "torch.py").write_text("IMPORTED = True\n")
    code = ("import sys; from gan_jax.logger import MetricsLog\n"
            f"log = MetricsLog({str(tmp_path / 'run')!r}); log.scalars(1, {{'loss': 0.5}}); log.close()\n"
            "assert 'torch' not in sys.modules, 'tensorboardX imported torch'\n"
            "import torch; assert torch.IMPORTED\n"
            "print('ok')\n")
    os.makedirs(tmp_path / "run")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(fake), os.environ.get("PYTHONPATH", "")]))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert out.returncode == 0 and out.stdout.strip() == "ok", out.stderr[-2000:]
    assert any(f.startswith("events.out.tfevents") for f in os.listdir(tmp_path / "run" / "tensorboard"))


def test_checkpoints_of_a_fresh_run_start_orbax_at_the_first_save(tiny_config, tmp_path):
    directory = tmp_path / "checkpoints"
    ckpts = Checkpoints(str(directory))
    assert ckpts.steps() == [] and not directory.exists()  # nothing listed, nothing created
    state = jax.device_get(init_state(tiny_config))
    ckpts.save(state, {"signature": {}})
    assert ckpts.steps() == [0] and Checkpoints(str(directory)).steps() == [0]
    ckpts.close()
