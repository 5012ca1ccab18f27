"""The benchmark checks what it times: every timed JAX program against PyTorch on its own setting.

Marked ``torch``: deselected by default, run with ``-m torch`` (``.ci/run`` does, with the
``bench`` extra installed; under CI a skip fails).
"""
import dataclasses
import json

import pytest

from gan_jax.bench import equivalence, throughput

pytestmark = [pytest.mark.torch, pytest.mark.xdist_group("test_bench_check")]

TINY = ["--width", "4", "--steps", "2", "--warmup", "0", "--scan", "2"]


@pytest.fixture(autouse=True)
def _need_torch():
    pytest.importorskip("torch")


def _run(tmp_path, *args):
    out = tmp_path / "bench.json"
    rc = throughput.main([*TINY, *args, "--json", str(out)])
    return rc, json.loads(out.read_text())


def test_checks_every_timed_program_on_its_own_setting(tmp_path, monkeypatch, capsys):
    seen = []
    real_check = equivalence.check

    def spy(config, seed=0, step_fn=None):
        seen.append((config.resolution, config.channels, config.g_width, config.batch_size, step_fn))
        return real_check(config, seed, step_fn)

    monkeypatch.setattr(equivalence, "check", spy)
    rc, out = _run(tmp_path, "--settings", "dcgan28:8,dcgan64:4", "--variants", "jax,jax-unroll,torch-eager")
    assert rc == 0
    # Checked on the timed settings (not a stand-in), each with the compiled program it timed.
    assert [s[:4] for s in seen] == [(28, 1, 4, 8), (64, 3, 4, 4)]
    assert all(s[4] is not None for s in seen)
    assert out["equivalence"]["checked"] is True and out["equivalence"]["failed"] == []
    for res in out["results"]:
        checks = res["equivalence"]
        assert set(checks) == {"jax", "jax-unroll2"} and all(c["ok"] for c in checks.values())
        assert checks["jax"]["against"] == "torch" and checks["jax-unroll2"]["against"] == "2 x jax"
        assert checks["jax"]["diff"]["g_update_median"] <= checks["jax"]["tolerance"]["g_update_median"]
    text = capsys.readouterr().out
    assert "| dcgan64:4 | jax | " in text and "| OK (steps 1, 2) |" in text and "WARNING" not in text


def test_a_perturbed_step_fails_the_check_and_exits_nonzero(tmp_path, capsys):
    rc, out = _run(tmp_path, "--settings", "dcgan28:8,dcgan64:4", "--variants", "jax",
                   "--perturb-jax-step", "1.01")
    assert rc == 1
    assert out["equivalence"]["failed"] == ["dcgan28:8 jax"]
    result = out["results"][0]
    assert result["timed"] is False and result["variants"] == {}
    assert any(f.startswith("g_update_median") for f in result["equivalence"]["jax"]["failures"])
    assert len(out["results"]) == 1  # stopped at the first failing setting
    text = capsys.readouterr()
    assert "**FAILED** (steps 1, 2)" in text.out and "EQUIVALENCE CHECK FAILED" in text.err


@pytest.mark.parametrize("field, factor, seen_at", [("lr_d", 1.02, ""), ("beta1", 1.2, "@2"), ("beta2", 0.99, "@2")])
def test_a_changed_library_step_is_caught(tmp_path, monkeypatch, field, factor, seen_at):
    """Not through the benchmark's own hook: the library's step itself is changed. Adam's
    betas do not show in its first step (~lr * sign(grad)), only in the second, which the
    check runs from the JAX state after the first, Adam's moments copied into PyTorch."""
    import gan_jax.tasks

    real = gan_jax.tasks.make_train_step
    monkeypatch.setattr(gan_jax.tasks, "make_train_step", lambda config, *a, **k: real(
        dataclasses.replace(config, **{field: getattr(config, field) * factor}), *a, **k))
    rc, out = _run(tmp_path, "--settings", "dcgan28:8", "--variants", "jax")
    assert rc == 1 and out["equivalence"]["failed"] == ["dcgan28:8 jax"]
    failures = out["results"][0]["equivalence"]["jax"]["failures"]
    assert any(f.split()[0].endswith(f"update_median{seen_at}") for f in failures), failures


def test_a_wrong_fused_step_is_caught(tmp_path, monkeypatch):
    """K steps per call: one call against K calls of the one-step program (compiled for the
    check when the jax variant is not timed)."""
    import gan_jax.parallel
    from jax import lax

    def one_step_twice(step, steps_per_call, unroll=None):  # the first batch only, K times: wrong
        return lambda state, batches: lax.scan(lambda s, _: step(s, {"image": batches["image"][0] * 0.5}),
                                               state, batches, length=steps_per_call, unroll=unroll or 1)

    monkeypatch.setattr(gan_jax.parallel, "fuse_steps", one_step_twice)
    rc, out = _run(tmp_path, "--settings", "dcgan28:8", "--variants", "jax-unroll")
    assert rc == 1
    checks = out["results"][0]["equivalence"]
    assert checks["jax-unroll2"]["ok"] is False and checks["jax-unroll2"]["against"] == "2 x jax"


def test_no_check_puts_a_warning_in_the_table_and_the_json(tmp_path, capsys):
    rc, out = _run(tmp_path, "--settings", "dcgan28:8", "--variants", "jax,torch-eager", "--no-check")
    assert rc == 0
    assert out["equivalence"]["checked"] is False and "NOT checked" in out["equivalence"]["warning"]
    table = [line for line in capsys.readouterr().out.splitlines() if line.startswith("|")]
    assert table[2].startswith("| **WARNING** | --no-check")
    assert "| dcgan28:8 | jax |" in table[3] and table[3].endswith("| **NOT CHECKED** |")
