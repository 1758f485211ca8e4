"""The package's layout holds: no import circles, no private names imported across modules,
streamlit only in ``pcdash/ui/``, and the pure library (``pcn/``, ``cre/``) never reaching into
the experiments, the dashboard or the figures. Read from the source with ``ast``, so a lazy
import inside a function counts as much as one at the top of a file."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "pcdash"


def _modules() -> dict[str, Path]:
    """Every module of the package by dotted name (a package by its ``__init__.py``)."""
    out = {}
    for path in PACKAGE.rglob("*.py"):
        parts = list(path.relative_to(ROOT).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = path
    return out


MODULES = _modules()


def _owner(name: str) -> str | None:
    """The module of the package that ``name`` (a module or a name in one) lives in."""
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name or None


def _imports(module: str) -> list[tuple[str, str]]:
    """``(imported module, imported name)`` of every import in ``module`` (name "" for
    ``import x``), relative imports resolved."""
    path = MODULES[module]
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    out = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            out += [(alias.name, "") for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                parts = parts[: len(parts) - (node.level - 1)]
                base = ".".join(parts + ([base] if base else []))
            out += [(base, alias.name) for alias in node.names]
    return out


def import_graph() -> dict[str, set[str]]:
    """Module → the package's modules it imports (a ``from m import sub`` of a submodule points
    at the submodule)."""
    graph: dict[str, set[str]] = {m: set() for m in MODULES}
    for module in MODULES:
        for base, name in _imports(module):
            full = f"{base}.{name}" if name else base
            target = _owner(full) if full in MODULES else _owner(base)
            if target and target != module:
                graph[module].add(target)
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in graph:
        if v not in index:
            visit(v)
    return found


def test_the_cycle_finder_finds_a_circle():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_the_graph_sees_the_package():
    graph = import_graph()
    assert len(graph) > 50
    assert "pcdash.pcn.energies" in graph["pcdash.pcn.inference"]


def test_no_import_circles():
    assert cycles(import_graph()) == []


def test_no_private_names_imported_across_modules():
    private = [
        (module, base, name)
        for module in MODULES
        for base, name in _imports(module)
        if name.startswith("_") and not name.startswith("__")
    ]
    assert private == []


def test_only_the_ui_package_imports_streamlit():
    users = {
        module
        for module in MODULES
        for base, _ in _imports(module)
        if base.split(".")[0] == "streamlit"
    }
    assert users and all(module.startswith("pcdash.ui") for module in users), sorted(users)


@pytest.mark.parametrize("library", ["pcdash.pcn", "pcdash.cre"])
def test_the_pure_library_does_not_reach_into_experiments_or_the_dashboard(library):
    outside = ("pcdash.experiments", "pcdash.ui", "pcdash.figures", "pcdash.jobs", "pcdash.paper")
    graph = import_graph()
    reaches = {
        (module, target)
        for module in graph
        if module == library or module.startswith(library + ".")
        for target in graph[module]
        if target.startswith(outside)
    }
    assert reaches == set()


def test_the_tests_run_with_strict_dtype_promotion():
    """conftest.py turns JAX's strict dtype promotion on (Equinox-style): an implicit promotion
    such as float + int32 array is an error, while optax's Adam still runs (pcdash/promotion.py)."""
    import jax
    import jax.numpy as jnp
    import optax
    import pytest

    from pcdash.promotion import standard_promotion

    assert jax.config.jax_numpy_dtype_promotion == "strict"
    with pytest.raises(jax.dtypes.TypePromotionError):
        jnp.arange(3, dtype=jnp.int32) + 0.5
    params = {"w": jnp.ones(3)}
    opt = standard_promotion(optax.adam(0.1))
    updates, _ = opt.update({"w": jnp.ones(3)}, opt.init(params), params)
    assert jnp.allclose(updates["w"], -0.1)
