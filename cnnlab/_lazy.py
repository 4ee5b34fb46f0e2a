"""Lazy re-exports for a package's ``__init__``: import a submodule on first use.

``import cnnlab`` (or ``cnnlab.widgets``, ``cnnlab.plotting``) must stay quick and must
not pull in Numba, ipywidgets or Matplotlib before a name that needs them is used.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable, Mapping
from typing import Any


def lazy_exports(
    package: str, exports: Mapping[str, str], submodules: Iterable[str] = ()
) -> tuple[list[str], Callable[[str], Any], Callable[[], list[str]]]:
    """Build ``__all__``, ``__getattr__`` and ``__dir__`` for a package.

    Parameters
    ----------
    package : str
        The package's ``__name__``.
    exports : mapping of str to str
        Public name -> the submodule (relative to ``package``) that defines it.
    submodules : iterable of str
        Submodules reachable as attributes, e.g. ``cnnlab.shapes``.

    Returns
    -------
    all_names, getattr_, dir_
        Assign them to ``__all__``, ``__getattr__`` and ``__dir__``. A resolved name is
        stored in the package's namespace, so the lookup happens once.

    Examples
    --------
    >>> all_names, getattr_, _ = lazy_exports("cnnlab", {"conv_output_size": "shapes"})
    >>> all_names
    ['conv_output_size']
    >>> getattr_("conv_output_size")(32, 5)
    28
    """
    exports = dict(exports)
    submodules = tuple(submodules)
    all_names = sorted(exports) + list(submodules)

    def getattr_(name: str) -> Any:
        if name in exports:
            module = importlib.import_module(f"{package}.{exports[name]}")
            value = getattr(module, name)
            vars(importlib.import_module(package))[name] = value
            return value
        if name in submodules:
            return importlib.import_module(f"{package}.{name}")
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    def dir_() -> list[str]:
        return sorted(set(vars(importlib.import_module(package))) | set(all_names))

    return all_names, getattr_, dir_
