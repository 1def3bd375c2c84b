"""The repository's layering, read from the source (every import statement, including those
inside functions):

- ``triage.contract`` is the bottom layer: it imports nothing else from the repository;
- ``ground_station`` and ``triage_models`` import only ``triage.contract`` from ``triage``,
  and not each other;
- no module imports itself back through others: the module import graph of the whole
  repository has no cycle.

A violation names the importing file and line, so the fix is obvious.
"""

from __future__ import annotations

import ast
from pathlib import Path

from triage.contract.paths import repo_root

ROOT = repo_root()
PACKAGES = {"triage": ROOT / "triage", "ground_station": ROOT / "ground_station"}
PACKAGES["triage_models"] = ROOT / "models" / "triage_models"


def _module_name(path: Path) -> str:
    for pkg, folder in PACKAGES.items():
        if path.is_relative_to(folder):
            rel = path.relative_to(folder).with_suffix("")
            parts = [p for p in rel.parts if p != "__init__"]
            return ".".join([pkg, *parts])
    raise AssertionError(path)


def _modules() -> dict[str, Path]:
    out = {}
    for folder in PACKAGES.values():
        for path in sorted(folder.rglob("*.py")):
            out[_module_name(path)] = path
    return out


MODULES = _modules()


def _resolve(name: str) -> str | None:
    """The repository module an import of ``name`` loads (the longest known prefix)."""
    parts = name.split(".")
    while parts:
        cand = ".".join(parts)
        if cand in MODULES:
            return cand
        parts.pop()
    return None


def _imports(module: str) -> list[tuple[str, int]]:
    """(imported repository module, line) of every import statement in a module."""
    path = MODULES[module]
    tree = ast.parse(path.read_text(), str(path))
    is_pkg = path.name == "__init__.py"
    out = []
    for node in ast.walk(tree):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                pkg = module.split(".")
                pkg = pkg if is_pkg else pkg[:-1]
                pkg = pkg[: len(pkg) - (node.level - 1)]
                base = ".".join([*pkg, base] if base else pkg)
            # "from a import b" loads the module a.b when there is one, else takes a name of a
            names = [
                f"{base}.{a.name}" if f"{base}.{a.name}" in MODULES else base for a in node.names
            ]
        for n in names:
            target = _resolve(n)
            if target is not None and target != module:
                out.append((target, node.lineno))
    return out


GRAPH = {m: _imports(m) for m in MODULES}


def _layer(module: str) -> str:
    if module == "triage.contract" or module.startswith("triage.contract."):
        return "contract"
    return module.split(".")[0]


ALLOWED = {
    "contract": {"contract"},
    "ground_station": {"contract", "ground_station"},
    "triage_models": {"contract", "triage_models"},
    "triage": {"contract", "triage", "ground_station", "triage_models"},
}


def test_the_graph_was_read():
    assert "triage.contract.records" in MODULES and "ground_station.ingest" in MODULES
    assert ("triage.contract.records", 20) not in GRAPH["triage.contract.records"]
    assert any(t.startswith("triage.contract") for t, _ in GRAPH["ground_station.ingest"])


def test_layers_import_only_what_they_may():
    bad = []
    for module, imports in GRAPH.items():
        layer = _layer(module)
        for target, line in imports:
            if _layer(target) not in ALLOWED[layer]:
                rel = MODULES[module].relative_to(ROOT)
                bad.append(f"{rel}:{line}: {layer} imports {target}")
    assert not bad, "\n".join(bad)


def _cycles() -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    out: list[list[str]] = []
    counter = 0
    edges = {m: sorted({t for t, _ in imps}) for m, imps in GRAPH.items()}
    for start in sorted(edges):
        if start in index:
            continue
        work = [(start, 0)]
        while work:
            node, i = work.pop()
            if i == 0:
                index[node] = low[node] = counter
                counter += 1
                stack.append(node)
                on_stack.add(node)
            succ = edges[node]
            if i < len(succ):
                work.append((node, i + 1))
                nxt = succ[i]
                if nxt not in index:
                    work.append((nxt, 0))
                elif nxt in on_stack:
                    low[node] = min(low[node], index[nxt])
                continue
            if low[node] == index[node]:
                comp = []
                while True:
                    w = stack.pop()
                    on_stack.discard(w)
                    comp.append(w)
                    if w == node:
                        break
                if len(comp) > 1:
                    out.append(sorted(comp))
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
    return out


def test_no_import_cycle():
    assert _cycles() == []


def test_the_cycle_finder_finds_a_cycle(monkeypatch):
    """The check itself can fail: two modules that import each other are one cycle."""
    monkeypatch.setitem(GRAPH, "triage.contract.records", [("triage.contract.packets", 1)])
    monkeypatch.setitem(GRAPH, "triage.contract.packets", [("triage.contract.records", 1)])
    assert ["triage.contract.packets", "triage.contract.records"] in _cycles()


def test_in_repo_imports_are_at_module_top():
    """Imports of the repository's own modules sit at module top, where the graph above and a
    reader see them; only heavy third-party modules (TensorFlow, rasterio...) load lazily."""
    bad = []
    for path in MODULES.values():
        tree = ast.parse(path.read_text(), str(path))
        for fn in ast.walk(tree):
            if not isinstance(fn, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            for node in ast.walk(fn):
                names = []
                if isinstance(node, ast.Import):
                    names = [a.name for a in node.names]
                elif isinstance(node, ast.ImportFrom) and not node.level:
                    names = [node.module or ""]
                if any(n.split(".")[0] in PACKAGES for n in names):
                    bad.append(f"{path.relative_to(ROOT)}:{node.lineno} in {fn.name}()")
    assert not bad, "\n".join(bad)
