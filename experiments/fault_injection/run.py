"""Fault injection: kill ``gan-jax train`` at random moments, damage checkpoints, resume.

Each round starts ``gan-jax train`` on a tiny model (a checkpoint every 3 steps) in
one work directory, sends SIGTERM, SIGINT or SIGKILL after a random delay (start-up,
compilation and training alike), and sometimes damages the newest checkpoint
between runs (truncates or zeroes one of its files, or deletes its metadata). Then:

* SIGTERM/SIGINT must exit 0 (or 130 only for an interrupt the loop never saw);
  SIGKILL may leave nothing new, but never a checkpoint orbax lists and cannot read;
* the next run must resume from the newest *undamaged* checkpoint that existed
  (no completed checkpoint lost) -- it says so on stderr: ``resuming DIR from step S``;
* a final run to the target step count must finish.

    python experiments/fault_injection/run.py --rounds 30 --seed 0
"""
from __future__ import annotations

import argparse
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

TINY = ["--set", "g_width=8", "--set", "d_width=8", "--set", "z_dim=16", "--set", "log_every=3",
        "--set", "sample_every=3", "--set", "checkpoint_every=3", "--set", "keep_checkpoints=3",
        "--set", "grid_size=4", "--batch-size", "8", "--no-progress"]


def ckpt_steps(workdir: str) -> list[int]:
    d = os.path.join(workdir, "checkpoints")
    return sorted(int(n) for n in os.listdir(d) if n.isdigit()) if os.path.isdir(d) else []


def damage(workdir: str, rng: random.Random) -> str:
    """Damage the newest checkpoint; returns what was done."""
    step = ckpt_steps(workdir)[-1]
    root = os.path.join(workdir, "checkpoints", str(step))
    files = [os.path.join(r, f) for r, _, fs in os.walk(root) for f in fs]
    victim = rng.choice(files)
    how = rng.choice(["truncate", "zero", "delete"])
    if how == "truncate":
        size = os.path.getsize(victim)
        with open(victim, "r+b") as f:
            f.truncate(size // 2)
    elif how == "zero":
        size = os.path.getsize(victim)
        with open(victim, "r+b") as f:
            f.write(b"\0" * size)
    else:
        os.remove(victim)
    return f"{how} {os.path.relpath(victim, workdir)}"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=30)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--max-delay", type=float, default=12.0, help="seconds; signals land in [0, max)")
    ap.add_argument("--damage-prob", type=float, default=0.3)
    ap.add_argument("--keep", action="store_true", help="keep the work directory")
    args = ap.parse_args()
    rng = random.Random(args.seed)
    base = tempfile.mkdtemp(prefix="gan_jax_faults_")
    workdir = os.path.join(base, "run")
    env = {**os.environ, "JAX_PLATFORMS": "cpu"}
    cmd = [sys.executable, "-m", "gan_jax.cli", "train", "--workdir", workdir, "--steps", "100000", *TINY]
    failures, damaged = [], set()
    for r in range(args.rounds):
        # The newest checkpoint that is intact (ones we damaged do not count).
        expect = max([s for s in ckpt_steps(workdir) if s not in damaged], default=0)
        sig = rng.choice([signal.SIGTERM, signal.SIGINT, signal.SIGKILL])
        delay = rng.uniform(0, args.max_delay)
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
        time.sleep(delay)
        proc.send_signal(sig)
        _, err = proc.communicate(timeout=300)
        m = re.search(r"resuming \S+ from step (\d+)", err)
        resumed = int(m.group(1)) if m else 0
        ok_rc = proc.returncode == (-9 if sig == signal.SIGKILL else 0)
        line = (f"round {r:2d}: {sig.name:7s} after {delay:5.2f}s -> rc {proc.returncode:4d}, "
                f"resumed from {resumed} (expected {expect}), checkpoints now {ckpt_steps(workdir)}")
        started = "resuming" in err or "starting" in err or "step" in err
        if not ok_rc:
            failures.append(line + f"\n    stderr tail: {err.strip().splitlines()[-1:] if err.strip() else ''}")
        elif m is None and expect > 0 and started and "stopped by" not in err:
            failures.append(line + "  (no resume line)")
        elif m is not None and resumed != expect and resumed not in damaged:
            failures.append(line + "  (lost a checkpoint)")
        print(line, flush=True)
        for step in re.findall(r"unreadable checkpoint moved to \S+/(\d+)-\d+", err):
            damaged.discard(int(step))  # quarantined: a later save may write that step afresh
        damaged.discard(resumed)  # damage that left it readable: it counts as intact
        steps = ckpt_steps(workdir)
        # Damage the newest checkpoint only while an intact older one exists to fall back to.
        if len(steps) >= 2 and not damaged and rng.random() < args.damage_prob:
            print(f"          damaged checkpoint {steps[-1]}: {damage(workdir, rng)}", flush=True)
            damaged.add(steps[-1])
    final = max(ckpt_steps(workdir), default=0) + 6
    cmd[cmd.index("100000")] = str(final)
    done = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=600)
    print(f"final run to step {final}: rc {done.returncode}; {done.stderr.strip().splitlines()[-1]}")
    if done.returncode != 0 or f"done: {final} steps" not in done.stderr:
        failures.append(f"final run failed: {done.stderr[-2000:]}")
    print(f"{args.rounds} rounds, {len(failures)} failures")
    for f in failures:
        print("FAIL", f)
    if not args.keep:
        shutil.rmtree(base, ignore_errors=True)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
