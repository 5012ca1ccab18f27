"""Two processes through ``jax.distributed`` against one, from a fresh start to 200 steps.

Every run is ``gan-jax train`` on the default config (DCGAN, 28 px, MNIST-5k, EMA) made
small for the 2-core CPU: widths 32, batch 32, a checkpoint and a sample grid every 50 steps.

* ``two_resumed``: two processes (one CPU device each, 127.0.0.1, gloo), 0 -> 100 steps,
  then both started again with ``--steps 200``: the resume the README describes;
* ``two_once``: the same two processes, 0 -> 200 without a stop;
* ``two_killed``: two processes to 200, process 1 SIGKILLed once process 0 has logged
  step 120 (past the checkpoint at 100); process 0 is left to notice (killed if it has not
  exited after ``--grace`` s); then both are started again and finish;
* ``one_2dev``: one process with two forced CPU devices, ``parallel=sharding``: the same
  2-device mesh in one process;
* ``one``: one process, one device (``parallel=jit``).

It compares the final state (every array of checkpoint 200: parameters, BatchNorm
statistics, optimiser states, EMA, RNG key) and the step-200 sample grid of each with
``two_once``.

    python experiments/multihost/run.py
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

import numpy as np

SMALL = ["--batch-size", "32", "--set", "g_width=32", "--set", "d_width=32", "--set", "grid_size=16",
         "--set", "log_every=10", "--set", "sample_every=50", "--set", "checkpoint_every=50",
         "--set", "checkpoint_minutes=0", "--no-progress"]
STEPS = 200


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def env_for(devices: int) -> dict:
    return {**os.environ, "JAX_PLATFORMS": "cpu",
            "XLA_FLAGS": f"--xla_force_host_platform_device_count={devices} "
                         "--xla_cpu_collective_call_terminate_timeout_seconds=900"}


def train_cmd(workdir: str, steps: int, *extra: str) -> list[str]:
    return [sys.executable, "-m", "gan_jax.cli", "train", "--workdir", workdir, "--steps", str(steps),
            *SMALL, *extra]


def show(cmd: list[str], env: dict) -> str:
    flags = env["XLA_FLAGS"].split()[0]
    return f"XLA_FLAGS={flags} " + " ".join(c if c != sys.executable else "python" for c in cmd)


def start_two(workdir: str, steps: int, log_dir: str, tag: str) -> tuple[list[subprocess.Popen], list]:
    port = free_port()
    procs, logs = [], []
    for i in range(2):
        cmd = train_cmd(workdir, steps, "--set", "parallel=sharding", "--coordinator", f"127.0.0.1:{port}",
                        "--num-processes", "2", "--process-id", str(i))
        if i == 0:
            print(f"  $ {show(cmd, env_for(1))}   (and --process-id 1)", flush=True)
        log = open(os.path.join(log_dir, f"{tag}_p{i}.log"), "w")
        procs.append(subprocess.Popen(cmd, env=env_for(1), stdout=log, stderr=subprocess.STDOUT))
        logs.append(log)
    return procs, logs


def finish(procs, logs, log_dir: str, tag: str, timeout: float = 1800) -> list[int]:
    codes = [p.wait(timeout=timeout) for p in procs]
    for log in logs:
        log.close()
    for i in range(len(procs)):
        with open(os.path.join(log_dir, f"{tag}_p{i}.log")) as f:
            tail = [line for line in f.read().splitlines() if line.strip()][-2:]
        print(f"    process {i}: rc {codes[i]}; " + " | ".join(t[:160] for t in tail), flush=True)
    return codes


def run_two(workdir: str, steps: int, log_dir: str, tag: str) -> None:
    t = time.time()
    codes = finish(*start_two(workdir, steps, log_dir, tag), log_dir, tag)
    print(f"    {time.time() - t:.0f} s", flush=True)
    if codes != [0, 0]:
        raise SystemExit(f"{tag}: exit codes {codes}")


def run_one(workdir: str, steps: int, devices: int, log_dir: str, tag: str) -> None:
    mode = "sharding" if devices > 1 else "jit"
    cmd = train_cmd(workdir, steps, "--set", f"parallel={mode}")
    print(f"  $ {show(cmd, env_for(devices))}", flush=True)
    t = time.time()
    with open(os.path.join(log_dir, f"{tag}.log"), "w") as log:
        code = subprocess.run(cmd, env=env_for(devices), stdout=log, stderr=subprocess.STDOUT).returncode
    with open(os.path.join(log_dir, f"{tag}.log")) as f:
        print(f"    rc {code}; {f.read().strip().splitlines()[-1][:160]}; {time.time() - t:.0f} s", flush=True)
    if code:
        raise SystemExit(f"{tag}: exit code {code}")


def logged_step(workdir: str) -> int:
    try:
        with open(os.path.join(workdir, "metrics.jsonl")) as f:
            return max((json.loads(line)["step"] for line in f if line.strip()), default=0)
    except (OSError, ValueError):
        return 0


def run_killed(workdir: str, log_dir: str, kill_at: int, grace: float) -> None:
    procs, logs = start_two(workdir, STEPS, log_dir, "killed")
    end = time.time() + 1800
    while logged_step(workdir) < kill_at and time.time() < end and all(p.poll() is None for p in procs):
        time.sleep(0.05)
    at = logged_step(workdir)
    procs[1].send_signal(signal.SIGKILL)
    t = time.time()
    try:
        procs[0].wait(timeout=grace)
        fate = f"exited by itself after {time.time() - t:.1f} s (rc {procs[0].returncode})"
    except subprocess.TimeoutExpired:
        procs[0].send_signal(signal.SIGKILL)
        fate = f"still running after {grace:.0f} s: SIGKILLed too"
    print(f"    process 1 SIGKILLed when process 0 had logged step {at}; process 0 {fate}", flush=True)
    finish(procs, logs, log_dir, "killed")
    steps = sorted(int(n) for n in os.listdir(os.path.join(workdir, "checkpoints")) if n.isdigit())
    print(f"    checkpoints left: {steps}", flush=True)
    print("  both started again:", flush=True)
    run_two(workdir, STEPS, log_dir, "killed_resume")
    with open(os.path.join(log_dir, "killed_resume_p0.log")) as f:
        resumed = [line for line in f if line.startswith("resuming")]
    print(f"    {resumed[0].strip() if resumed else 'no resume line'}", flush=True)


def load_state(workdir: str, step: int) -> dict:
    import jax
    import orbax.checkpoint as ocp

    with ocp.CheckpointManager(os.path.join(workdir, "checkpoints")) as m:
        state = m.restore(step, args=ocp.args.Composite(state=ocp.args.StandardRestore()))["state"]
    return {jax.tree_util.keystr(p): np.asarray(x) for p, x in jax.tree_util.tree_leaves_with_path(state)}


def load_grid(workdir: str, step: int) -> np.ndarray:
    from PIL import Image
    return np.asarray(Image.open(os.path.join(workdir, "samples", f"step_{step:07d}.png"))).astype(np.int32)


def compare(name: str, a_dir: str, b_dir: str, step: int = STEPS) -> None:
    a, b = load_state(a_dir, step), load_state(b_dir, step)
    assert a.keys() == b.keys()
    same = sum(a[k].tobytes() == b[k].tobytes() for k in a)
    params = [k for k in a if k.startswith(("['g_params']", "['d_params']"))]
    floats = [k for k in a if np.issubdtype(a[k].dtype, np.floating)]
    abs_diff = max(float(np.max(np.abs(a[k] - b[k]))) for k in floats)
    p_abs = max(float(np.max(np.abs(a[k] - b[k]))) for k in params)
    p_rel = max(float(np.linalg.norm(a[k] - b[k]) / max(np.linalg.norm(b[k]), 1e-12)) for k in params)
    ga, gb = load_grid(a_dir, step), load_grid(b_dir, step)
    gd = np.abs(ga - gb)
    print(f"  {name:12s} step {step}: arrays identical {same:2d}/{len(a)}; parameters: max |diff| {p_abs:.2e}, "
          f"max relative (per array, L2) {p_rel:.2e}; all floats max |diff| {abs_diff:.2e}; "
          f"sample grid: {int((gd > 0).sum())} of {gd.size} pixel values differ, max {int(gd.max())}/255, "
          f"mean {float(gd.mean()):.3f}", flush=True)


def loss_drift(a_dir: str, b_dir: str) -> None:
    """|difference| of the logged losses (means over each 10 steps) of two runs, by step."""
    def load(d):
        with open(os.path.join(d, "metrics.jsonl")) as f:
            return {r["step"]: r for r in map(json.loads, filter(str.strip, f))}
    a, b = load(a_dir), load(b_dir)
    for step in (10, 20, 50, 100, 150, 200):
        print(f"    step {step:3d}: " + ", ".join(f"{k} {abs(a[step][k] - b[step][k]):.1e}"
                                               for k in ("d_loss", "g_loss", "d_real", "d_fake")), flush=True)


def losses(workdir: str) -> str:
    with open(os.path.join(workdir, "metrics.jsonl")) as f:
        last = [json.loads(line) for line in f if line.strip()][-1]
    return f"step {last['step']}: d_loss {last['d_loss']:.6f}, g_loss {last['g_loss']:.6f}"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--kill-at", type=int, default=120, help="process 0's logged step when process 1 is killed")
    ap.add_argument("--grace", type=float, default=60.0, help="seconds process 0 gets to exit by itself")
    ap.add_argument("--keep", action="store_true")
    args = ap.parse_args()
    base = tempfile.mkdtemp(prefix="gan_jax_multihost_")
    logs = os.path.join(base, "logs")
    os.makedirs(logs)
    d = {k: os.path.join(base, k) for k in ("two_resumed", "two_once", "two_killed", "one_2dev", "one")}
    t0 = time.time()
    print(f"python {' '.join(sys.argv)}  ({time.strftime('%Y-%m-%d')}; work directory {base})", flush=True)
    print("two_resumed: two processes to 100 steps, then both again to 200", flush=True)
    run_two(d["two_resumed"], 100, logs, "resumed_a")
    run_two(d["two_resumed"], STEPS, logs, "resumed_b")
    print("two_once: two processes to 200", flush=True)
    run_two(d["two_once"], STEPS, logs, "once")
    print("two_killed: two processes to 200, process 1 killed mid-run, then both again", flush=True)
    run_killed(d["two_killed"], logs, args.kill_at, args.grace)
    print("one_2dev: one process, two devices", flush=True)
    run_one(d["one_2dev"], STEPS, 2, logs, "one_2dev")
    print("one: one process, one device", flush=True)
    run_one(d["one"], STEPS, 1, logs, "one")
    print("Final losses (the last logged step of each):", flush=True)
    for k, v in d.items():
        print(f"  {k:12s} {losses(v)}", flush=True)
    print("Against two_once:", flush=True)
    for k in ("two_resumed", "two_killed", "one_2dev", "one"):
        compare(k, d[k], d["two_once"])
    print("  one device against two, earlier (how far the two drift apart):", flush=True)
    for step in (100, 150):
        compare("one", d["one"], d["two_once"], step)
    print("  |logged loss of one - of two_once|:", flush=True)
    loss_drift(d["one"], d["two_once"])
    print(f"{time.time() - t0:.0f} s in all")
    if args.keep:
        print(f"kept {base}")
    else:
        shutil.rmtree(base, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
