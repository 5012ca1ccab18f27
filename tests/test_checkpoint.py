"""Damaged checkpoints never restore to wrong values: every file, truncated or zeroed in turn."""
import os
import shutil

import jax
import numpy as np
import pytest

from gan_jax.checkpoint import Checkpoints, signature
from gan_jax.errors import UserError
from gan_jax.state import abstract_state, init_state


# Orbax's async reader leaves an "Event loop is closed" callback behind when a restore fails.
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
@pytest.mark.parametrize("damage", ["truncate", "zero"])
def test_every_damaged_file_fails_or_restores_exactly(tiny_config, tmp_path, damage):
    state = jax.device_get(init_state(tiny_config))
    good = str(tmp_path / "good")
    saver = Checkpoints(good)
    saver.save(state, {"signature": signature(tiny_config)})
    saver.close()
    files = sorted(os.path.relpath(os.path.join(r, f), good) for r, _, fs in os.walk(good) for f in fs)
    assert len(files) >= 5
    expected = [np.asarray(x) for x in jax.tree.leaves(state)]
    failed = 0
    for rel in files:
        work = str(tmp_path / "work")
        shutil.rmtree(work, ignore_errors=True)
        shutil.copytree(good, work)
        path = os.path.join(work, rel)
        size = os.path.getsize(path)
        with open(path, "r+b") as f:
            if damage == "truncate":
                f.truncate(size // 2)
            else:
                f.write(b"\0" * size)
        ckpts = Checkpoints(work)
        try:
            restored, _ = ckpts.restore(abstract_state(tiny_config), signature(tiny_config), 0)
        except UserError as e:
            assert "checkpoint" in str(e)
            failed += 1
            continue
        finally:
            ckpts.close()
        got = [np.asarray(x) for x in jax.tree.leaves(restored)]
        assert all(np.array_equal(a, b) for a, b in zip(expected, got)), f"{damage} {rel}: wrong values restored"
    assert failed >= 3  # the metadata, the array index and the data files are checked


@pytest.mark.parametrize("layout", ["without_none_fields", "with_none_fields"])
def test_checkpoints_of_older_layouts_restore(tiny_config, tmp_path, layout):
    """A checkpoint written before an optional state field existed (the field absent), or
    with the unused optional fields stored as empty nodes, restores into today's GANState."""
    import dataclasses

    import orbax.checkpoint as ocp

    state = jax.device_get(init_state(tiny_config))
    assert state.ema is None and state.pool is None  # optional parts this run does not use
    tree = {f.name: getattr(state, f.name) for f in dataclasses.fields(state)}
    if layout == "without_none_fields":
        tree = {k: v for k, v in tree.items() if v is not None}
    with ocp.CheckpointManager(str(tmp_path)) as manager:
        manager.save(0, args=ocp.args.Composite(state=ocp.args.StandardSave(tree),
                                                meta=ocp.args.JsonSave({"signature": signature(tiny_config)})))
        manager.wait_until_finished()
    restored, _ = Checkpoints(str(tmp_path)).restore(abstract_state(tiny_config), signature(tiny_config))
    assert type(restored) is type(state) and restored.pool is None
    for a, b in zip(jax.tree.leaves(restored), jax.tree.leaves(state)):
        np.testing.assert_array_equal(a, b)
