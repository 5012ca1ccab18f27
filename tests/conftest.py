"""Test session setup: 4 virtual CPU devices (for pmap tests), set before JAX is imported."""
import atexit
import os
import shutil
import tempfile

# A long collective timeout: on a loaded 2-core machine a virtual device's thread can wait
# well past XLA's default 40 s for the others to reach an all-reduce.
_PATIENT = "--xla_cpu_collective_call_terminate_timeout_seconds=900"
# The suite's time is XLA:CPU compiling hundreds of tiny train steps, not running them:
# without LLVM's optimisation passes and with the older loop emitters a tiny DCGAN step
# compiles 4-6x faster (6.2 s -> 1.0 s on a 2-core EPYC). Every comparison in the tests is
# between two programs built the same way, or against a tolerance; the library's own
# defaults (what `gan-jax train` and the benchmarks use) are untouched. Tests that start
# processes with their own XLA_FLAGS add these too.
QUICK_COMPILE_FLAGS = "--xla_backend_optimization_level=0 --xla_cpu_use_fusion_emitters=false"
os.environ.setdefault("XLA_FLAGS", f"--xla_force_host_platform_device_count=4 {_PATIENT} {QUICK_COMPILE_FLAGS}")
os.environ.setdefault("JAX_PLATFORMS", "cpu")
# One compilation cache for the whole session (subprocesses included): the many tiny
# train steps the tests build are compiled once; nothing is written to ~/.cache.
_XLA_CACHE = tempfile.mkdtemp(prefix="gan_jax_tests_xla_")
atexit.register(shutil.rmtree, _XLA_CACHE, ignore_errors=True)
os.environ.setdefault("JAX_COMPILATION_CACHE_DIR", _XLA_CACHE)
os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", "0.3")
# gan_jax's own caches (default extractors, real-data statistics) in the session's temp dir too.
os.environ.setdefault("GAN_JAX_CACHE", os.path.join(_XLA_CACHE, "gan_jax"))

import pytest  # noqa: E402

from gan_jax.configs import Config  # noqa: E402


@pytest.fixture
def tiny_config() -> Config:
    """A DCGAN small enough for fast tests (28 px, widths 8, batch 8)."""
    return Config(g_width=8, d_width=8, z_dim=16, batch_size=8, steps=4, log_every=2,
                  sample_every=2, checkpoint_every=2, grid_size=4)


# --------------------------------------------------------------------------- torch-marked tests under CI
# Tests marked ``torch`` (the PyTorch step equivalence, the Inception port against its torch
# reference, the benchmark's own check) skip where torch is not installed. Under CI a skip
# would hide that they never ran, so with ``CI`` set (any value but "", 0, false, no) every
# skip of a torch-marked test, in setup or in the test, is reported as a failure instead.
# `.ci/run` installs the `bench` extra and runs them with `-m torch`.

def _ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if report.skipped and not hasattr(report, "wasxfail") and _ci() and item.get_closest_marker("torch"):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        report.outcome = "failed"
        report.longrepr = (f"torch-marked test skipped under CI (CI={os.environ.get('CI')!r}): {reason}\n"
                           "Torch-marked tests must run in CI: pip install -e '.[bench]'")
