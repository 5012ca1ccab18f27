"""The layout is the architecture: no task branches outside ``gan_jax/tasks``, no import cycles."""
import ast
import pathlib

import pytest

PACKAGE = pathlib.Path(__file__).resolve().parents[1] / "gan_jax"


def _modules() -> dict[str, pathlib.Path]:
    """Dotted module name -> file, for every module of the package."""
    out = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        out[name] = path
    return out


def _imports(name: str, path: pathlib.Path, modules) -> set[str]:
    """The project modules ``name`` imports, at module level or inside functions.

    ``from pkg import x`` counts as importing ``pkg.x`` when that is a module, else ``pkg``.
    A submodule's implicit import of its parent package does not count."""
    is_package = path.name == "__init__.py"
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name in modules)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = name.split(".") if is_package else name.split(".")[:-1]
                anchor = anchor[:len(anchor) - node.level + 1]
                base = ".".join(anchor + ([node.module] if node.module else []))
            for alias in node.names:
                target = f"{base}.{alias.name}"
                if target in modules:
                    found.add(target)
                elif base in modules:
                    found.add(base)
    found.discard(name)
    return found


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle of ``graph``, or None."""
    state, stack = {}, []

    def visit(node):
        state[node] = "open"
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == "open":
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state:
                found = visit(nxt)
                if found:
                    return found
        state[node] = "done"
        stack.pop()
        return None

    for node in sorted(graph):
        if node not in state:
            found = visit(node)
            if found:
                return found
    return None


def test_no_import_cycle():
    modules = _modules()
    graph = {name: _imports(name, path, modules) for name, path in modules.items()}
    assert "gan_jax.tasks.generate" in graph["gan_jax.tasks"] or graph["gan_jax.tasks"], "expected a real graph"
    assert _cycle(graph) is None, f"import cycle: {' -> '.join(_cycle(graph))}"


def test_cycle_finder_finds_a_planted_cycle():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert _cycle(graph) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": set()}) is None


def _task_branches(path: pathlib.Path) -> list[int]:
    """Lines of ``path`` that compare a config's ``task`` field (``x.task == ...``, ``x.task in ...``)."""
    lines = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Compare):
            operands = [node.left, *node.comparators]
            if any(isinstance(o, ast.Attribute) and o.attr == "task" for o in operands):
                lines.append(node.lineno)
        if isinstance(node, ast.Call) and getattr(node.func, "id", "") == "getattr" and len(node.args) >= 2:
            if isinstance(node.args[1], ast.Constant) and node.args[1].value == "task":
                lines.append(node.lineno)
    return lines


def test_no_task_branch_outside_tasks():
    branches = {str(p.relative_to(PACKAGE.parent)): _task_branches(p) for p in PACKAGE.rglob("*.py")
                if "tasks" not in p.relative_to(PACKAGE).parts}
    assert {p: lines for p, lines in branches.items() if lines} == {}


def test_task_branch_finder_sees_one(tmp_path):
    planted = tmp_path / "x.py"
    planted.write_text("def f(config):\n    if config.task == 'cyclegan':\n        return 1\n")
    assert _task_branches(planted) == [2]


@pytest.mark.parametrize("module", ["gan_jax.models", "gan_jax.losses", "gan_jax.data", "gan_jax.configs"])
def test_lower_layers_import_nothing_above_them(module):
    """models, losses, data and configs sit at the bottom: they never import tasks, training or the CLI."""
    modules = _modules()
    above = ("gan_jax.tasks", "gan_jax.train", "gan_jax.parallel", "gan_jax.cli", "gan_jax.sampling",
             "gan_jax.translate", "gan_jax.edit", "gan_jax.metrics", "gan_jax.checkpoint")
    offenders = {}
    for name, path in modules.items():
        if name == module or name.startswith(module + "."):
            bad = sorted(t for t in _imports(name, path, modules) if t.startswith(above))
            if bad and not (module == "gan_jax.configs" and bad == ["gan_jax.tasks"]):
                offenders[name] = bad
    assert offenders == {}
