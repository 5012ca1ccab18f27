"""Name -> object registries for losses, models and tasks, open to code outside the package.

A registry maps a name to an object. Objects are added with a decorator or a call::

    from gan_jax import losses

    @losses.register("my_loss")
    def my_loss(): ...                      # decorator form
    losses.register("other", GANLoss(...))  # call form

and looked up by name, or by import path ``"my_pkg.module:attr"``, which imports
``my_pkg.module`` and takes ``attr`` from it (the module's own ``register`` calls run on
import, so a config that names ``"my_pkg.module:attr"`` finds user code from any process
that can import it).

Every change to any registry bumps :func:`version`; functions that cache compiled programs
per config key on it too, so that registering something new never returns a stale program.
"""
from __future__ import annotations

import importlib
import itertools
import sys
from typing import Any, Callable, Generic, Iterator, TypeVar

from gan_jax.errors import UserError

T = TypeVar("T")
_VERSION = itertools.count(1)
_version = 0


def version() -> int:
    """A counter bumped by every registration in any registry (part of cache keys)."""
    return _version


def _bump() -> None:
    global _version
    _version = next(_VERSION)


def import_object(path: str, what: str) -> Any:
    """The object at ``"module.path:attr"``; UserError naming a missing module or attribute."""
    module_name, _, attr = path.partition(":")
    if not module_name or not attr:
        raise UserError(f"{what}={path!r}: expected a registered name or an import path 'module:attr'")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as e:
        raise UserError(f"{what}={path!r}: cannot import module {e.name!r}; make it importable "
                        f"(e.g. on PYTHONPATH) to use this run") from None
    try:
        return getattr(module, attr)
    except AttributeError:
        raise UserError(f"{what}={path!r}: module {module_name!r} has no attribute {attr!r}") from None


class Registry(Generic[T]):
    """A named collection of ``T`` (losses, model builders, tasks). ``kind`` names its config field."""

    def __init__(self, kind: str, coerce: Callable[[Any], T] | None = None):
        self.kind = kind
        self._items: dict[str, T] = {}
        self._origins: dict[str, str] = {}  # name -> the module that registered it
        self._raw: dict[str, Any] = {}  # name -> the object as registered (before coercion)
        self._by_path: dict[tuple[str, int], T] = {}  # (import path, id of its object) -> the coerced object
        self._coerce = coerce or (lambda obj: obj)

    def register(self, name: str, obj: T | None = None, *, replace: bool = False):
        """Add ``obj`` as ``name``; without ``obj``, a decorator that adds what it decorates.

        Registering a taken name raises ValueError unless ``replace`` (re-running a notebook cell).
        """
        if not name or ":" in name:
            raise ValueError(f"{self.kind} name {name!r}: expected a non-empty name without ':'")
        origin = sys._getframe(1).f_globals.get("__name__", "")  # the registering module

        def add(item):
            value = self._coerce(item)
            if name in self._items and not replace and self._items[name] != value:
                raise ValueError(f"{self.kind} {name!r} is already registered; pass replace=True to replace it")
            self._items[name] = value
            self._raw[name] = item
            self._origins[name] = origin
            _bump()
            return item

        return add if obj is None else add(obj)

    def unregister(self, name: str) -> None:
        """Remove ``name`` (tests, notebooks)."""
        self._items.pop(name, None)
        self._raw.pop(name, None)
        self._origins.pop(name, None)
        _bump()

    def origin(self, name: str) -> str | None:
        """The module that registered ``name`` when it is outside gan_jax (to import before
        looking the name up in another process); None for built-ins, import paths and unknowns."""
        module = self._origins.get(name)
        if not module or module == "gan_jax" or module.startswith("gan_jax."):
            return None
        return module

    def get(self, name: str) -> T:
        """The object registered as ``name``, or at the import path ``"module:attr"``.

        An import path's module may register objects when imported; the path's object itself
        need not be registered (a loss function pair, a ``build`` function or a task)."""
        if name in self._items:
            return self._items[name]
        if ":" in name:
            obj = import_object(name, self.kind)
            for known, raw in self._raw.items():  # the path names a registered object: the same value
                if raw is obj:
                    return self._items[known]
            key = (name, id(obj))
            if key not in self._by_path:
                self._by_path[key] = self._coerce(obj)
            return self._by_path[key]
        raise UserError(f"{self.kind}={name!r}: unknown {self.kind}; expected one of "
                        f"{', '.join(sorted(self._items))}, or an import path 'module:attr'")

    def __contains__(self, name: str) -> bool:
        return name in self._items

    def __iter__(self) -> Iterator[str]:
        return iter(self._items)

    def names(self) -> list[str]:
        """The registered names, sorted."""
        return sorted(self._items)


def import_modules(modules, what: str = "config.json imports") -> None:
    """Import the modules that registered a run's names (``config.json``'s ``imports``).

    UserError, one line, naming a module that cannot be imported."""
    for module in modules:
        if module == "__main__":
            raise UserError(f"{what}: the run's loss, model or task was registered in a script (__main__); "
                            "register it in an importable module, or name it by import path 'module:attr'")
        try:
            importlib.import_module(module)
        except ModuleNotFoundError as e:
            raise UserError(f"{what}: cannot import module {e.name!r}, which registered this run's loss, model "
                            f"or task; make it importable (e.g. on PYTHONPATH)") from None


__all__ = ["Registry", "import_modules", "import_object", "version"]
