"""Fault injection: kill ``gan-jax train``, damage its checkpoints, resume, and compare the
restored state with an uninterrupted run of the same seed, bit for bit.

First an uninterrupted **reference** run trains the small model below to ``--final`` steps
and keeps every checkpoint (one each ``C = checkpoint_every`` steps) and every sample grid.
Then one work directory goes through ``--rounds`` rounds. Each round

1. starts ``gan-jax train`` (to ``--final`` steps; checkpoints every C steps and every
   ``checkpoint_minutes``, written asynchronously) and stops it one of three ways:
   ``time`` (SIGTERM, SIGINT or SIGKILL a random time after the start: start-up, restore,
   compilation or training), ``step`` (the same signals once the run has logged a random
   number of steps) or ``save`` (SIGKILL the moment a checkpoint write is in flight: the
   harness polls ``checkpoints/`` for orbax's ``STEP.orbax-checkpoint-tmp`` directory);
2. sometimes damages checkpoints: the newest one (``overwrite``: 64 random bytes a third
   into its largest file, as a user did; ``truncate``, ``zero`` or ``delete`` a random
   file), or every one (``all``);
3. **resumes**: ``gan-jax train --steps T`` to the first multiple T of C after the newest
   checkpoint. It must resume from the newest checkpoint left intact (and say which one it
   used when it falls back past a damaged one). With every checkpoint damaged it must stop
   with one line that names ``--restart`` and the directory, and a restarted run starts
   from step 0 (``gan-jax train --restart``, or ``gan_jax.train.train(..., restart=True)``
   while the CLI has no such flag);
4. compares checkpoint T and ``samples/step_T.png`` with the reference's: every array of
   the state (parameters, BatchNorm statistics, both optimiser states, the EMA copy, the
   RNG key, the step) and every pixel of the sample grid must be identical.

No run may print a Python traceback ("Traceback", "Event loop is closed", "Task
exception was never retrieved"). SIGTERM/SIGINT must exit 0. A last run trains to
``--final`` and is compared there.

``--damage-loop N`` instead repeats each damaged-checkpoint case N times on copies of the
reference's first checkpoints, their largest file overwritten, truncated or zeroed in turn:
``fallback-train`` (newest damaged: resume from the one before, equal to the reference at
the next common step), ``fallback-sample``, ``none-train`` (all damaged: exit 2, one line
naming --restart and the directory),
``none-sample`` (exit 2, no traceback) and ``restart`` (all damaged, restarted: equal to
the reference at step C).

    python experiments/fault_injection/run.py --rounds 30 --seed 0
    python experiments/fault_injection/run.py --damage-loop 20 --seed 0
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

import numpy as np

C = 20  # checkpoint_every = sample_every: the steps at which the runs are compared
SMALL = ["--batch-size", "16", "--set", "g_width=16", "--set", "d_width=16", "--set", "z_dim=32",
         "--set", "grid_size=16", "--set", "log_every=10", "--set", f"sample_every={C}",
         "--set", f"checkpoint_every={C}", "--no-progress"]
"""The default model (DCGAN, 28 px, MNIST-5k, EMA) with small widths: ~80 steps/s on 2 cores."""
FAULTED = [*SMALL, "--set", "keep_checkpoints=3", "--set", "checkpoint_minutes=0.02"]
"""Also a checkpoint 1.2 s after the last one: resumes from steps that are not multiples of C."""
REFERENCE = [*SMALL, "--set", "keep_checkpoints=100000", "--set", "checkpoint_minutes=0"]
TRACEBACK = re.compile(r"Traceback|Event loop is closed|exception was never retrieved")
RESUMED = re.compile(r"resuming \S+ from step (\d+)")


SHIM = ("import signal, sys\n"
        "early = []\n"
        "for s in (signal.SIGTERM, signal.SIGINT):\n"
        "    signal.signal(s, lambda n, f: early.append(signal.Signals(n).name))\n"
        "from gan_jax.train import stop_signals\n"
        "import gan_jax.cli as cli\n"
        "with stop_signals(early):\n"
        "    code = cli._main(cli.build_parser(), sys.argv[1:])\n"
        "sys.exit(code)\n")
"""``gan-jax train`` as it runs with the CLI change of results.md ("CLI changes": its start-up
handler keeps signals for ``gan_jax.train.stop_signals(pending)`` instead of raising them);
used while ``gan_jax.cli`` does not call ``stop_signals``."""
USE_SHIM = False


def cli(workdir: str, steps: int, flags: list[str]) -> list[str]:
    head = [sys.executable, "-c", SHIM] if USE_SHIM else [sys.executable, "-m", "gan_jax.cli"]
    return [*head, "train", "--workdir", workdir, "--steps", str(steps), *flags]


def cli_has_stop_signals() -> bool:
    import inspect

    import gan_jax.cli
    return "stop_signals" in inspect.getsource(gan_jax.cli)


def cli_has_restart(env) -> bool:
    out = subprocess.run([sys.executable, "-m", "gan_jax.cli", "train", "--help"], capture_output=True,
                         text=True, env=env, timeout=300)
    return "--restart" in out.stdout


def restart_cmd(workdir: str, steps: int, flags: list[str], has_flag: bool) -> list[str]:
    """``gan-jax train ... --restart``, or the same through the library while the CLI lacks the flag."""
    if has_flag:
        return cli(workdir, steps, flags) + ["--restart"]
    sets = [flags[i + 1] for i, f in enumerate(flags) if f == "--set"]
    batch = flags[flags.index("--batch-size") + 1]
    code = ("import sys\n"
            "from gan_jax import configs\n"
            "from gan_jax.train import train\n"
            f"c = configs.override(configs.get(configs.DEFAULT), {sets!r} + ['steps={steps}', 'batch_size={batch}'])\n"
            f"train(configs.validate(c), {workdir!r}, progress=False, restart=True)\n")
    return [sys.executable, "-c", code]


def ckpt_steps(workdir: str) -> list[int]:
    d = os.path.join(workdir, "checkpoints")
    return sorted(int(n) for n in os.listdir(d) if n.isdigit()) if os.path.isdir(d) else []


def tmp_dirs(workdir: str) -> list[str]:
    d = os.path.join(workdir, "checkpoints")
    return sorted(n for n in os.listdir(d) if "tmp" in n) if os.path.isdir(d) else []


def logged_step(workdir: str) -> int:
    try:
        with open(os.path.join(workdir, "metrics.jsonl")) as f:
            lines = f.read().splitlines()
    except OSError:
        return 0
    for line in reversed(lines):
        m = re.match(r'\{"step": (\d+)', line)
        if m:
            return int(m.group(1))
    return 0


def damage_files(root: str, how: str, rng: random.Random, largest: bool = False) -> str:
    """Damage one file of the checkpoint directory ``root`` (its largest file for ``overwrite``
    or with ``largest``, else a random one); returns what was done."""
    files = sorted(os.path.join(r, f) for r, _, fs in os.walk(root) for f in fs)
    victim = max(files, key=os.path.getsize) if how == "overwrite" or largest else rng.choice(files)
    size = os.path.getsize(victim)
    if how == "overwrite":  # what the user did: bytes overwritten inside the largest file
        with open(victim, "r+b") as f:
            f.seek(size // 3)
            f.write(bytes(rng.getrandbits(8) for _ in range(min(64, max(1, size // 3)))))
    elif how == "truncate":
        with open(victim, "r+b") as f:
            f.truncate(size // 2)
    elif how == "zero":
        with open(victim, "r+b") as f:
            f.write(b"\0" * size)
    else:
        os.remove(victim)
    return f"{how} {os.path.relpath(victim, os.path.dirname(os.path.dirname(root)))}"


def load_state(workdir: str, step: int) -> dict:
    """Every array of checkpoint ``step``, ``{path: array}``, read by orbax without the library."""
    import jax
    import orbax.checkpoint as ocp

    with ocp.CheckpointManager(os.path.join(workdir, "checkpoints")) as m:
        state = m.restore(step, args=ocp.args.Composite(state=ocp.args.StandardRestore()))["state"]
    return {jax.tree_util.keystr(p): np.asarray(x) for p, x in jax.tree_util.tree_leaves_with_path(state)}


def load_grid(workdir: str, step: int) -> np.ndarray:
    from PIL import Image
    return np.asarray(Image.open(os.path.join(workdir, "samples", f"step_{step:07d}.png")))


def compare(workdir: str, reference: str, step: int) -> str | None:
    """None if checkpoint ``step`` and its sample grid equal the reference's bit for bit; else what differs."""
    a, b = load_state(workdir, step), load_state(reference, step)
    if a.keys() != b.keys():
        return f"step {step}: different arrays: {sorted(a.keys() ^ b.keys())[:4]}"
    bad = [k for k in a if a[k].dtype != b[k].dtype or a[k].shape != b[k].shape or
           a[k].tobytes() != b[k].tobytes()]
    if bad:
        return f"step {step}: {len(bad)} of {len(a)} arrays differ, e.g. {bad[:3]}"
    if not np.array_equal(load_grid(workdir, step), load_grid(reference, step)):
        return f"step {step}: sample grid differs"
    return None


def groups(workdir: str, step: int) -> str:
    """How many arrays of each kind the comparison covered."""
    keys = load_state(workdir, step)
    count = lambda *prefixes: sum(k.startswith(tuple(f"['{p}']" for p in prefixes)) for k in keys)  # noqa: E731
    return (f"{len(keys)} arrays: {count('g_params', 'd_params')} parameters, {count('g_opt', 'd_opt')} optimiser, "
            f"{count('ema')} EMA, {count('g_stats', 'd_stats')} BatchNorm, "
            f"{len(keys) - count('g_params', 'd_params', 'g_opt', 'd_opt', 'ema', 'g_stats', 'd_stats')} other")


class Harness:
    def __init__(self, args):
        self.args = args
        self.rng = random.Random(args.seed)
        self.base = tempfile.mkdtemp(prefix="gan_jax_faults_")
        self.reference = os.path.join(self.base, "reference")
        # One compilation cache for every run: the reference and the faulted runs run the same programs.
        self.env = {**os.environ, "JAX_PLATFORMS": "cpu",
                    "JAX_COMPILATION_CACHE_DIR": os.path.join(self.base, "xla")}
        self.failures: list[str] = []
        self.restart_flag = cli_has_restart(self.env)
        global USE_SHIM
        USE_SHIM = args.cli_shim == "on" or (args.cli_shim == "auto" and not cli_has_stop_signals())

    def fail(self, msg: str) -> None:
        self.failures.append(msg)
        print(f"    FAIL {msg}", flush=True)

    def run(self, cmd: list[str], timeout: float = 600) -> subprocess.CompletedProcess:
        return subprocess.run(cmd, capture_output=True, text=True, env=self.env, timeout=timeout)

    def check_clean(self, what: str, err: str) -> None:
        if TRACEBACK.search(err):
            self.fail(f"{what}: a traceback on stderr:\n{err[-3000:]}")

    def make_reference(self) -> None:
        t = time.time()
        done = self.run(cli(self.reference, self.args.final, REFERENCE), timeout=3600)
        print(f"reference: {self.args.final} steps uninterrupted, rc {done.returncode}, {time.time() - t:.0f} s, "
              f"{len(ckpt_steps(self.reference))} checkpoints kept", flush=True)
        if done.returncode != 0:
            raise SystemExit(f"reference run failed:\n{done.stderr[-3000:]}")
        self.check_clean("reference", done.stderr)

    # --- rounds ------------------------------------------------------------------------------
    def kill_run(self, workdir: str, mode: str, sig: signal.Signals) -> tuple[subprocess.Popen, str, str]:
        """Start a run to --final and stop it as ``mode`` says; returns (process, stderr, what happened)."""
        start_step = max(ckpt_steps(workdir), default=0)
        err_path = os.path.join(self.base, "stderr.txt")
        with open(err_path, "w") as err_file:
            proc = subprocess.Popen(cli(workdir, self.args.final, FAULTED), stdout=subprocess.DEVNULL,
                                    stderr=err_file, env=self.env)
            t0 = time.time()
            what = ""
            if mode == "time":
                delay = self.rng.uniform(0.3, self.args.max_delay)
                while time.time() - t0 < delay and proc.poll() is None:
                    time.sleep(0.01)
                what = f"after {time.time() - t0:5.2f}s"
            elif mode == "step":
                target = logged_step(workdir) + self.rng.randint(1, 4 * C)
                while proc.poll() is None and logged_step(workdir) < target and time.time() - t0 < 300:
                    time.sleep(0.01)
                what = f"at logged step {logged_step(workdir)}"
            else:  # save: SIGKILL while a checkpoint write is in flight
                after = start_step + self.rng.randint(0, 3 * C)
                while proc.poll() is None and time.time() - t0 < 300:
                    tmp = [n for n in tmp_dirs(workdir) if int(n.split(".")[0]) > after]
                    if tmp:
                        break
                    time.sleep(0.0005)
                what = f"while writing {tmp[0] if tmp else '(none seen)'}"
            if proc.poll() is None:
                proc.send_signal(sig)
            else:
                what += " (the run had ended)"
            proc.wait(timeout=600)
        with open(err_path) as f:
            return proc, f.read(), what

    def resume(self, workdir: str, label: str, expect: int | None, damaged: set[int]) -> None:
        """Resume to the next common step T, check what it said, compare with the reference at T."""
        newest = max(ckpt_steps(workdir), default=0)
        target = min((newest // C + 1) * C, self.args.final)
        done = self.run(cli(workdir, target, FAULTED))
        self.check_clean(f"{label} resume", done.stderr)
        if expect is None and done.returncode == 0 and RESUMED.search(done.stderr):
            expect = -1  # the damage left one readable: checked below like any resume
        if expect is None:  # every checkpoint damaged: one line saying how to go on
            lines = done.stderr.strip().splitlines()
            ckdir = os.path.join(workdir, "checkpoints")
            ok = (done.returncode == 2 and len(lines) == 1 and lines[0].startswith("gan-jax: error: ")
                  and "--restart" in lines[0] and ckdir in lines[0])
            print(f"          resume: rc {done.returncode}, {len(lines)} line(s): "
                  f"{lines[-1][:150] if lines else ''}...", flush=True)
            if not ok:
                self.fail(f"{label}: expected exit 2 and one line naming --restart and {ckdir}:\n{done.stderr[-2000:]}")
                return
            target = C
            done = self.run(restart_cmd(workdir, target, FAULTED, self.restart_flag))
            self.check_clean(f"{label} restart", done.stderr)
            moved = re.search(r"moved them to (\S+);", done.stderr)
            print(f"          restart: rc {done.returncode}, moved to {moved.group(1) if moved else '?'}", flush=True)
            expect = 0
        m = RESUMED.search(done.stderr)
        resumed = int(m.group(1)) if m else 0
        used = re.search(r"\(checkpoint (\S+), the newest readable one\)", done.stderr)
        skipped = re.findall(r"checkpoint \S+/(\d+) is unreadable \(([^)]*)", done.stderr)
        if done.returncode != 0 or f"done: {target} steps" not in done.stderr:
            self.fail(f"{label}: the resume to {target} failed (rc {done.returncode}):\n{done.stderr[-2000:]}")
            return
        note = ""
        if skipped:
            note = (f"; fell back past {', '.join(s for s, _ in skipped)} "
                    f"({skipped[0][1][:60]}); used {used.group(1) if used else '?'}")
            if used is None:
                self.fail(f"{label}: fell back without naming the checkpoint it used")
        if resumed != expect:
            if resumed in damaged and resumed > expect:
                note += f"; the damage to {resumed} left it readable"
            else:
                self.fail(f"{label}: resumed from {resumed}, expected {expect} (the newest intact checkpoint)")
        diff = compare(workdir, self.reference, target)
        print(f"          resumed from {resumed}{note}; at step {target}: "
              f"{'IDENTICAL to the reference (state and sample grid)' if diff is None else 'DIFFERENT: ' + diff}",
              flush=True)
        if diff is not None:
            self.fail(f"{label}: {diff}")

    def rounds(self) -> None:
        workdir = os.path.join(self.base, "run")
        modes = {"time": 0, "step": 0, "save": 0}
        sigs = {"SIGTERM": 0, "SIGINT": 0, "SIGKILL": 0}
        damage_kinds: dict[str, int] = {}
        killed_mid_save = 0
        for r in range(self.args.rounds):
            if max(ckpt_steps(workdir), default=0) >= self.args.final - C:
                print(f"round {r}: the run is at --final; stopping the rounds", flush=True)
                break
            mode = ("time", "step", "save")[r % 3]
            sig = signal.SIGKILL if mode == "save" else self.rng.choice(
                [signal.SIGTERM, signal.SIGINT, signal.SIGKILL])
            proc, err, what = self.kill_run(workdir, mode, sig)
            modes[mode] += 1
            sigs[sig.name] += 1
            left = tmp_dirs(workdir)
            killed_mid_save += bool(left) and sig == signal.SIGKILL
            steps = ckpt_steps(workdir)
            stopped = re.search(r"stopped by \S+ after step (\d+)", err)
            print(f"round {r:2d}: {mode:4s} {sig.name:7s} {what} -> rc {proc.returncode:4d}"
                  f"{', stopped after step ' + stopped.group(1) if stopped else ''}; checkpoints {steps}"
                  f"{'; left ' + ','.join(left) + ' (a write cut short)' if left else ''}", flush=True)
            self.check_clean(f"round {r} killed run", err)
            want_rc = -9 if sig == signal.SIGKILL else 0
            ended = "(the run had ended)" in what or "done: " in err
            if proc.returncode != want_rc and not ended:
                self.fail(f"round {r}: rc {proc.returncode}, expected {want_rc}:\n{err[-2000:]}")
            damaged: set[int] = set()
            expect: int | None = max(steps, default=0)
            if steps and self.rng.random() < self.args.damage_prob:
                kind = "all" if self.rng.random() < 0.2 else self.rng.choice(
                    ["overwrite", "overwrite", "truncate", "zero", "delete"])
                damage_kinds[kind] = damage_kinds.get(kind, 0) + 1
                victims = steps if kind == "all" else steps[-1:]
                for s in victims:
                    how = "overwrite" if kind == "all" else kind
                    done = damage_files(os.path.join(workdir, "checkpoints", str(s)), how, self.rng)
                    print(f"          damaged checkpoint {s}: {done}", flush=True)
                    damaged.add(s)
                rest = [s for s in steps if s not in damaged]
                expect = max(rest) if rest else None
            self.resume(workdir, f"round {r}", expect, damaged)
        # The rest of the run, compared at its end.
        done = self.run(cli(workdir, self.args.final, FAULTED), timeout=3600)
        self.check_clean("final run", done.stderr)
        if done.returncode != 0:
            self.fail(f"final run: rc {done.returncode}:\n{done.stderr[-2000:]}")
        diff = compare(workdir, self.reference, self.args.final)
        print(f"final run to step {self.args.final}: rc {done.returncode}; "
              f"{'IDENTICAL to the reference' if diff is None else 'DIFFERENT: ' + diff} "
              f"({groups(workdir, self.args.final)})")
        if diff is not None:
            self.fail(f"final: {diff}")
        print(f"stops: {modes}; signals: {sigs}; damage: {damage_kinds}; "
              f"SIGKILLs that left a checkpoint write unfinished: {killed_mid_save}")

    # --- damaged-checkpoint loop ---------------------------------------------------------------
    def copy_first(self, n: int) -> str:
        """A work directory holding the reference's first ``n`` checkpoints (steps C .. nC)."""
        workdir = os.path.join(self.base, "loop")
        shutil.rmtree(workdir, ignore_errors=True)
        os.makedirs(os.path.join(workdir, "checkpoints"))
        shutil.copy(os.path.join(self.reference, "config.json"), workdir)
        for s in range(C, n * C + 1, C):
            shutil.copytree(os.path.join(self.reference, "checkpoints", str(s)),
                            os.path.join(workdir, "checkpoints", str(s)))
        return workdir

    def damage_loop(self) -> None:
        n = self.args.damage_loop
        hows = ["overwrite", "truncate", "zero"]
        tally: dict[str, list[int]] = {}
        sample_out = os.path.join(self.base, "sample.npy")

        def sample(workdir):
            return self.run([sys.executable, "-m", "gan_jax.cli", "sample", "--workdir", workdir, "--num", "4",
                             "--out", sample_out])

        for case in ("fallback-train", "fallback-sample", "none-train", "none-sample", "restart"):
            ok = 0
            for i in range(n):
                how = hows[i % len(hows)]
                workdir = self.copy_first(2)
                victims = [2 * C] if case.startswith("fallback") else [C, 2 * C]
                for s in victims:  # the largest file: damage that the restore must notice
                    damage_files(os.path.join(workdir, "checkpoints", str(s)), how, self.rng, largest=True)
                errors = []
                if case == "fallback-train":
                    done = self.run(cli(workdir, 3 * C, FAULTED))
                    if done.returncode != 0 or f"resuming {workdir} from step {C} (checkpoint" not in done.stderr:
                        errors.append(f"rc {done.returncode}: {done.stderr[-1500:]}")
                    elif (diff := compare(workdir, self.reference, 3 * C)) is not None:
                        errors.append(diff)
                elif case == "fallback-sample":
                    done = sample(workdir)
                    if done.returncode != 0 or f"from step {C} " not in done.stdout:
                        errors.append(f"rc {done.returncode}: {done.stdout} {done.stderr[-1500:]}")
                elif case == "none-train":
                    done = self.run(cli(workdir, 3 * C, FAULTED))
                    lines = done.stderr.strip().splitlines()
                    if not (done.returncode == 2 and len(lines) == 1 and "--restart" in lines[0]
                            and os.path.join(workdir, "checkpoints") in lines[0]):
                        errors.append(f"rc {done.returncode}: {done.stderr[-1500:]}")
                elif case == "none-sample":
                    done = sample(workdir)
                    last = done.stderr.strip().splitlines()[-1:] or [""]
                    if done.returncode != 2 or not last[0].startswith("gan-jax: error: no readable checkpoint"):
                        errors.append(f"rc {done.returncode}: {done.stderr[-1500:]}")
                else:
                    done = self.run(restart_cmd(workdir, C, FAULTED, self.restart_flag))
                    if done.returncode != 0 or "restarting" not in done.stderr:
                        errors.append(f"rc {done.returncode}: {done.stderr[-1500:]}")
                    elif (diff := compare(workdir, self.reference, C)) is not None:
                        errors.append(diff)
                if TRACEBACK.search(done.stderr):
                    errors.append(f"traceback: {done.stderr[-3000:]}")
                for e in errors:
                    self.fail(f"{case} #{i} ({how}): {e}")
                ok += not errors
                if i == 0:
                    shown = (done.stderr.strip() or done.stdout.strip()).splitlines()
                    print(f"  {case} #0 ({how}), rc {done.returncode}, stderr:", flush=True)
                    for line in shown[-4:]:
                        print(f"      {line[:300]}", flush=True)
            tally[case] = [ok, n]
            print(f"{case}: {ok} of {n} runs as expected, {'no' if ok == n else 'SOME'} tracebacks "
                  f"(damage: {', '.join(hows)} in turn)", flush=True)

    def finish(self) -> int:
        print(f"{len(self.failures)} failures")
        for f in self.failures:
            print("FAIL", f[:3000])
        if not self.args.keep:
            shutil.rmtree(self.base, ignore_errors=True)
        else:
            print(f"kept {self.base}")
        return 1 if self.failures else 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=30)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--final", type=int, default=None,
                    help="steps of the reference and of the faulted run (default: 8 C per round, 3 C with "
                         "--damage-loop)")
    ap.add_argument("--max-delay", type=float, default=8.0, help="seconds; 'time' signals land in [0.3, max)")
    ap.add_argument("--damage-prob", type=float, default=0.35)
    ap.add_argument("--damage-loop", type=int, default=0, metavar="N",
                    help="instead of rounds: each damaged-checkpoint case N times")
    ap.add_argument("--keep", action="store_true", help="keep the work directories")
    ap.add_argument("--cli-shim", choices=("auto", "on", "off"), default="auto",
                    help="run gan-jax train inside gan_jax.train.stop_signals() (auto: while the CLI does not)")
    args = ap.parse_args()
    if args.final is None:
        args.final = 3 * C if args.damage_loop else 8 * C * args.rounds
    h = Harness(args)
    t = time.time()
    print(f"python {' '.join(sys.argv)}\n  work directory {h.base}; CLI --restart flag: "
          f"{'yes' if h.restart_flag else 'no, restarts go through gan_jax.train.train(restart=True)'}; "
          f"gan-jax train {'through the stop_signals shim' if USE_SHIM else 'as it is'}", flush=True)
    h.make_reference()
    if args.damage_loop:
        h.damage_loop()
    else:
        h.rounds()
    print(f"{time.time() - t:.0f} s in all")
    return h.finish()


if __name__ == "__main__":
    sys.exit(main())
