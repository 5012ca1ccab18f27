"""README "Extending gan_jax": its three files and its commands, run as written, from outside the package.

The only changes to the README's commands: ``--steps 1000`` / ``2000`` become ``2`` / ``4``
and train commands get ``--batch-size 16 --no-progress`` so that the test stays short.
"""
import json
import os
import pathlib
import re
import shlex
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

README = (pathlib.Path(__file__).resolve().parents[1] / "README.md").read_text()
SECTION = README[README.index("## Extending gan_jax"):README.index("## Image-to-image")]
pytestmark = pytest.mark.xdist_group("extending")


def _files() -> dict[str, str]:
    """The section's ``# file: NAME`` Python blocks."""
    blocks = re.findall(r"```python\n# file: (\S+)\n(.*?)```", SECTION, re.S)
    return {name: code for name, code in blocks}


def _commands() -> list[list[str]]:
    (block,) = re.findall(r"```bash\n(.*?)```", SECTION, re.S)
    commands = []
    for line in block.splitlines():
        line = line.split("#", 1)[0].strip()
        if line.startswith("gan-jax"):
            line = line.replace("--steps 1000", "--steps 2").replace("--steps 2000", "--steps 4")
            words = shlex.split(line)
            if words[1] == "train":
                words += ["--batch-size", "16", "--no-progress"]
            commands.append(words)
    return commands


def _gan_jax(words, cwd, env):
    cmd = [sys.executable, "-c", "import sys; from gan_jax.cli import main; sys.exit(main())", *words[1:]]
    return subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=600)


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    """A user's folder holding the README's three files, and the environment its commands run in."""
    root = tmp_path_factory.mktemp("my_project")
    for name, code in _files().items():
        (root / name).write_text(code)
    env = {**os.environ, "PYTHONPATH": str(root)}
    return root, env


def test_the_section_shows_three_files_and_five_commands():
    assert sorted(_files()) == ["my_losses.py", "my_models.py", "my_tasks.py"]
    assert [c[1] for c in _commands()] == ["train", "sample", "train", "train", "sample"]


def test_readme_commands_train_sample_and_resume(project):
    root, env = project
    for words in _commands():
        result = _gan_jax(words, root, env)
        assert result.returncode == 0, f"{' '.join(words)}\n{result.stdout}\n{result.stderr}"

    mlp = json.loads((root / "runs/mlp/config.json").read_text())
    assert (mlp["model"], mlp["loss"], mlp["task"]) == ("my_models:mlp", "my_losses:ra_hinge", "generate")
    steps = [json.loads(line)["step"] for line in (root / "runs/mlp/metrics.jsonl").read_text().splitlines()]
    assert max(steps) == 4, steps  # resumed from 2 up to 4
    assert sorted(int(p.name) for p in (root / "runs/mlp/checkpoints").iterdir() if p.name.isdigit())[-1] == 4
    assert json.loads((root / "runs/pacgan/config.json").read_text())["task"] == "my_tasks:pacgan"
    for name in ("mlp.png", "pacgan.png"):
        grid = np.asarray(Image.open(root / name))
        assert grid.shape[0] >= 8 * 28 and grid.std() > 0, name


def test_the_loss_and_model_do_what_they_say(project):
    root, _ = project
    sys.path.insert(0, str(root))
    try:
        import jax
        import jax.numpy as jnp

        import my_losses  # noqa: F401  (registers ra_hinge)
        import my_models
        import my_tasks
        from gan_jax import configs, losses, models, tasks

        loss = losses.get("ra_hinge")
        r, f = jnp.array([2.0, 0.0]), jnp.array([-1.0, 1.0])  # means 1 and 0
        # D: mean relu(1 - (r - 0)) = (0 + 1) / 2, mean relu(1 + (f - 1)) = (0 + 1) / 2
        assert loss.relativistic and float(loss.d_loss(r, f)) == pytest.approx(1.0)
        # G: mean relu(1 - (f - 1)) = (3 + 1) / 2, mean relu(1 + (r - 0)) = (3 + 1) / 2
        assert float(loss.g_loss(r, f)) == pytest.approx(4.0)
        assert losses.get("my_losses:ra_hinge") == loss
        config = configs.validate(configs.override(configs.get("dcgan_mnist"), ["model=my_models:mlp", "g_width=32"]))
        g, d = models.build(config)
        assert isinstance(g, my_models.MLPGenerator) and isinstance(d, my_models.MLPDiscriminator)
        state = tasks.init_state(config)
        assert state.g_params["Dense_0"]["kernel"].shape == (100, 32)
        x = jnp.arange(2 * 2 * 2 * 1.0).reshape(2, 2, 2, 1)
        packed = my_tasks.pack(x)
        assert packed.shape == (1, 2, 2, 2)
        np.testing.assert_array_equal(packed[0, ..., 0], x[0, ..., 0])
        np.testing.assert_array_equal(packed[0, ..., 1], x[1, ..., 0])
        assert tasks.get("pacgan") is my_tasks.pacgan
        assert jax.tree.leaves(state)
    finally:
        sys.path.remove(str(root))
        from gan_jax import losses, models, tasks

        losses.LOSSES.unregister("ra_hinge")  # leave the registries as the other tests expect them
        models.MODELS.unregister("mlp")
        tasks.TASKS.unregister("pacgan")
        for name in ("my_losses", "my_models", "my_tasks"):
            sys.modules.pop(name, None)


def test_names_registered_by_a_script_are_recorded_and_a_missing_module_is_one_line(project, tmp_path):
    """A run trained from Python with registered *names* is sampled by gan-jax (config.json's
    ``imports``); without the module, gan-jax says which one is missing, in one line."""
    root, env = project
    script = (
        "import gan_jax, my_models, my_losses\n"
        "from gan_jax import configs\n"
        "config = configs.override(configs.get('dcgan_mnist'), ['model=mlp', 'loss=ra_hinge', 'steps=2', 'batch_size=16'])\n"
        f"gan_jax.train(config, {str(tmp_path / 'run')!r}, progress=False)\n")
    result = subprocess.run([sys.executable, "-c", script], cwd=root, env=env, capture_output=True, text=True,
                            timeout=600)
    assert result.returncode == 0, result.stderr
    saved = json.loads((tmp_path / "run/config.json").read_text())
    assert (saved["model"], saved["imports"]) == ("mlp", ["my_losses", "my_models"])
    sample = ["gan-jax", "sample", "--workdir", str(tmp_path / "run"), "--num", "4", "--out", str(tmp_path / "s.npy")]
    result = _gan_jax(sample, tmp_path, env)
    assert result.returncode == 0, result.stderr
    assert np.load(tmp_path / "s.npy").shape == (4, 28, 28, 1)

    bare = {k: v for k, v in env.items() if k != "PYTHONPATH"}
    result = _gan_jax(sample, tmp_path, bare)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "cannot import module 'my_losses'" in lines[0], result.stderr
