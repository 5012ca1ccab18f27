"""The README's Python API example runs as written."""
import os
import re


def test_readme_python_example_runs():
    readme = open(os.path.join(os.path.dirname(__file__), "..", "README.md")).read()
    blocks = re.findall(r"```python\n(.*?)```", readme, re.S)
    (code,) = [b for b in blocks if "gan_jax.make_train_step" in b]  # the "Python API" section's example
    namespace = {}
    exec(compile(code, "README.md", "exec"), namespace)
    assert namespace["images"].shape == (16, 28, 28, 1)
    assert int(namespace["state"].step) == 1
    assert namespace["step"] == 10 and int(namespace["trained"].step) == 10
