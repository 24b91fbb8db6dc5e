"""Architecture rules: which layer may import which, and no import cycles between project modules.

Every .py file under the project packages is parsed (never imported); every import is collected, including
imports inside functions and under `if TYPE_CHECKING:`, relative imports, and `from pkg import submodule`
(resolved to the submodule when it is one). Standard library and third-party imports are ignored.
"""

from __future__ import annotations

import ast
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest

# ------------------------------------------------------------------------------------------------ the table
# Layer -> its components (module prefixes). A module belongs to the component with the longest matching prefix.
LAYERS: dict[str, tuple[str, ...]] = {
    "domain": ("lifecycle",),
    "adapters": ("workflows.persistence", "notifications", "documents"),
    "application": ("workflows.services", "workflows.read", "workflows.simulation", "workflows.settings"),
    "entrypoints": ("workflows.cli", "workflows.scheduler", "dashboard"),
}

# Besides its own component, a module may import the components of these layers. Adapters may not import
# one another, entrypoints may not import one another: "adapters" / "entrypoints" are not listed for them.
MAY_IMPORT: dict[str, frozenset[str]] = {
    "domain": frozenset(),
    "adapters": frozenset({"domain"}),
    "application": frozenset({"application", "adapters", "domain"}),
    "entrypoints": frozenset({"application", "adapters", "domain"}),
}

# Component-to-component exceptions, each with its reason.
EXTRA_ALLOWED: frozenset[tuple[str, str]] = frozenset(
    {
        ("workflows.cli", "workflows.scheduler"),  # the CLI starts the scheduler
        ("workflows.cli", "dashboard"),  # and the web application (`cpts web`, `cpts demo --serve`)
    }
)

# Top-level packages that only group components: their own __init__ must not import project modules, importing
# the bare package (`import workflows`) is an error, and `from workflows import x` means the submodule workflows.x.
CONTAINERS: frozenset[str] = frozenset({"workflows"})

PROJECT_PACKAGES: tuple[str, ...] = ("lifecycle", "workflows", "notifications", "dashboard", "documents")
REPO_ROOT = Path(__file__).resolve().parents[2]


# --------------------------------------------------------------------------------------------- classifier
def is_project(module: str) -> bool:
    return module.split(".", 1)[0] in PROJECT_PACKAGES


def component_of(module: str) -> str | None:
    """The longest table prefix `module` is, or lies under; None when it belongs to no layer."""
    matches = [
        prefix
        for prefixes in LAYERS.values()
        for prefix in prefixes
        if module == prefix or module.startswith(prefix + ".")
    ]
    return max(matches, key=len) if matches else None


def layer_of(module: str) -> str | None:
    component = component_of(module)
    if component is None:
        return None
    return next(layer for layer, prefixes in LAYERS.items() if component in prefixes)


def import_allowed(importer: str, target: str) -> bool:
    own, other = component_of(importer), component_of(target)
    if own is None or other is None:
        return False
    if own == other or (own, other) in EXTRA_ALLOWED:
        return True
    own_layer, other_layer = layer_of(importer), layer_of(target)
    assert own_layer is not None and other_layer is not None
    return other_layer in MAY_IMPORT[own_layer]


# -------------------------------------------------------------------------------------- import collection
@dataclass(frozen=True)
class Edge:
    importer: str
    target: str
    path: str
    line: int


def _resolve_relative(module: str, is_package: bool, level: int, name: str | None) -> str:
    package = module if is_package else module.rpartition(".")[0]
    parts = package.split(".") if package else []
    if level - 1 >= len(parts):
        raise ValueError(f"relative import beyond top-level package in {module}")
    base = parts[: len(parts) - (level - 1)]
    return ".".join([*base, name] if name else base)


def imports_of(module: str, source: str, *, is_package: bool, known: Collection[str], path: str) -> list[Edge]:
    """Every project module `module` imports, at any depth in its body (functions, classes, if blocks)."""
    edges: list[Edge] = []
    for node in ast.walk(ast.parse(source, filename=path)):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = _resolve_relative(module, is_package, node.level, node.module) if node.level else node.module or ""
            targets = []
            for alias in node.names:
                candidate = f"{base}.{alias.name}"
                # A container package has no content of its own: what is imported from it is a submodule.
                is_module = candidate in known or base in CONTAINERS
                targets.append(candidate if alias.name != "*" and is_module else base)
        else:
            continue
        edges.extend(Edge(module, target, path, node.lineno) for target in dict.fromkeys(targets) if is_project(target))
    return edges


def build_edges(
    sources: Iterable[tuple[str, str]],
    *,
    packages: Collection[str] = (),
    paths: Mapping[str, str] | None = None,
) -> tuple[dict[str, str], list[Edge]]:
    """(module -> path, edges) for (module_name, source) pairs.

    A module is a package (relative imports resolve against itself) when listed in `packages` or when another
    given module lies under it. `paths` maps modules to the file shown in messages (default: derived name).
    """
    modules = dict(sources)
    package_names = set(packages) | {m.rpartition(".")[0] for m in modules if "." in m}
    where = {m: (paths or {}).get(m, m.replace(".", "/") + ".py") for m in modules}
    edges = [
        edge
        for module, source in modules.items()
        for edge in imports_of(
            module, source, is_package=module in package_names, known=modules.keys(), path=where[module]
        )
    ]
    return where, edges


# ------------------------------------------------------------------------------------------------ checkers
def _describe(module: str, known: Collection[str]) -> str:
    if module in CONTAINERS:
        return f"{module} (container package)"
    missing = "" if module in known else ", not found"
    return f"{module} ({layer_of(module) or 'no layer'}{missing})"


def check_layers(
    sources: Iterable[tuple[str, str]],
    *,
    packages: Collection[str] = (),
    paths: Mapping[str, str] | None = None,
) -> list[str]:
    """One message per module outside the table and per import the table does not allow."""
    where, edges = build_edges(sources, packages=packages, paths=paths)
    problems = [
        f"{where[module]}:1: module {module} belongs to no layer"
        for module in sorted(where)
        if is_project(module) and module not in CONTAINERS and layer_of(module) is None
    ]
    for edge in sorted(edges, key=lambda e: (e.path, e.line, e.target)):
        if edge.importer == edge.target or (layer_of(edge.importer) is None and edge.importer not in CONTAINERS):
            continue  # self-import; importer already reported as belonging to no layer
        if edge.importer in CONTAINERS or not import_allowed(edge.importer, edge.target):
            importer, target = _describe(edge.importer, where), _describe(edge.target, where)
            problems.append(f"{edge.path}:{edge.line}: module {importer} imports {target}: not allowed")
    return problems


def _strongly_connected(graph: Mapping[str, Collection[str]]) -> list[list[str]]:
    """Tarjan's algorithm, iterative."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []
    for root in sorted(graph):
        if root in index:
            continue
        work: list[tuple[str, Iterable[str]]] = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, successors = work[-1]
            for successor in successors:
                if successor not in index:
                    index[successor] = low[successor] = len(index)
                    stack.append(successor)
                    on_stack.add(successor)
                    work.append((successor, iter(sorted(graph[successor]))))
                    break
                if successor in on_stack:
                    low[node] = min(low[node], index[successor])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    component = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.append(member)
                        if member == node:
                            break
                    components.append(sorted(component))
    return components


def _example_cycle(start: str, members: set[str], graph: Mapping[str, Collection[str]]) -> list[str]:
    """A shortest path start -> ... -> start inside one strongly connected component."""
    previous: dict[str, str] = {}
    frontier = [start]
    while frontier:
        following = []
        for node in frontier:
            for successor in sorted(graph[node]):
                if successor not in members or successor in previous:
                    continue
                previous[successor] = node
                if successor == start:
                    path = [start]
                    while path[-1] != start or len(path) == 1:
                        path.append(previous[path[-1]])
                    return path[::-1]
                following.append(successor)
        frontier = following
    return [start]


def find_cycles(
    sources: Iterable[tuple[str, str]],
    *,
    packages: Collection[str] = (),
    paths: Mapping[str, str] | None = None,
) -> list[str]:
    """One message per import cycle (strongly connected component of more than one module)."""
    where, edges = build_edges(sources, packages=packages, paths=paths)
    graph: dict[str, set[str]] = {module: set() for module in where}
    lines: dict[tuple[str, str], str] = {}
    for edge in edges:
        if edge.target in graph and edge.target != edge.importer:
            graph[edge.importer].add(edge.target)
            lines.setdefault((edge.importer, edge.target), f"{edge.path}:{edge.line}")
    messages = []
    for component in _strongly_connected(graph):
        if len(component) < 2:
            continue
        cycle = _example_cycle(component[0], set(component), graph)
        steps = ", ".join(f"{a} -> {b} ({lines[a, b]})" for a, b in zip(cycle, cycle[1:], strict=False))
        messages.append(f"import cycle between {', '.join(component)}; for example: {steps}")
    return messages


# ------------------------------------------------------------------------------------------- the real tree
@dataclass(frozen=True, repr=False)
class Tree:
    sources: dict[str, str]
    packages: frozenset[str]
    paths: dict[str, str]

    def __repr__(self) -> str:
        return f"Tree({len(self.sources)} modules)"


def project_tree(root: Path = REPO_ROOT) -> Tree:
    sources: dict[str, str] = {}
    packages: set[str] = set()
    paths: dict[str, str] = {}
    for top in PROJECT_PACKAGES:
        if not (root / top).is_dir():
            continue
        for file in sorted((root / top).rglob("*.py")):
            relative = file.relative_to(root)
            if "__pycache__" in relative.parts:
                continue
            parts = list(relative.with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
                packages.add(".".join(parts))
            module = ".".join(parts)
            sources[module] = file.read_text(encoding="utf-8")
            paths[module] = relative.as_posix()
    return Tree(sources, frozenset(packages), paths)


@pytest.fixture(scope="module")
def tree() -> Tree:
    found = project_tree()
    assert any(module.startswith("lifecycle.") for module in found.sources), f"no modules found under {REPO_ROOT}"
    return found


def test_layers_are_respected(tree: Tree) -> None:
    problems = check_layers(tree.sources.items(), packages=tree.packages, paths=tree.paths)
    if problems:
        pytest.fail(f"{len(problems)} layering problem(s):\n" + "\n".join(problems), pytrace=False)


def test_no_import_cycles(tree: Tree) -> None:
    cycles = find_cycles(tree.sources.items(), packages=tree.packages, paths=tree.paths)
    if cycles:
        pytest.fail(f"{len(cycles)} import cycle(s):\n" + "\n".join(cycles), pytrace=False)


# ------------------------------------------------------------------------------ the checker itself works
@pytest.mark.parametrize(
    ("module", "layer"),
    [
        ("lifecycle", "domain"),
        ("lifecycle.machine", "domain"),
        ("workflows.persistence.migrations.versions.0001_engine_tables", "adapters"),
        ("notifications.render", "adapters"),
        ("documents.pdf", "adapters"),
        ("workflows.services.cases", "application"),
        ("workflows.read.finance", "application"),
        ("workflows.simulation.runner", "application"),
        ("workflows.settings", "application"),
        ("workflows.cli", "entrypoints"),
        ("workflows.cli.payments", "entrypoints"),
        ("workflows.scheduler", "entrypoints"),
        ("dashboard.app", "entrypoints"),
        ("workflows.engine", None),
        ("workflows", None),
        ("workflows.servicesx", None),
    ],
)
def test_layer_of(module: str, layer: str | None) -> None:
    assert layer_of(module) == layer


@pytest.mark.parametrize(
    ("importer", "target", "allowed"),
    [
        ("workflows.services.cases", "workflows.persistence.tables", True),
        ("workflows.services.cases", "workflows.read.cases", True),
        ("workflows.cli.payments", "workflows.cli.common", True),
        ("workflows.cli", "workflows.scheduler", True),
        ("workflows.scheduler", "workflows.cli", False),
        ("dashboard.app", "workflows.cli", False),
        ("workflows.cli", "dashboard.app", True),
        ("workflows.scheduler", "dashboard.app", False),
        ("notifications.outbox", "workflows.persistence.tables", False),
        ("workflows.persistence.tables", "notifications.model", False),
        ("workflows.persistence.tables", "lifecycle.events", True),
        ("lifecycle.machine", "workflows.services.cases", False),
        ("lifecycle.machine", "notifications.render", False),
        ("workflows.read.finance", "workflows.cli", False),
    ],
)
def test_import_allowed(importer: str, target: str, allowed: bool) -> None:
    assert import_allowed(importer, target) is allowed


def test_checker_reports_upward_and_sideways_imports() -> None:
    sources = [
        ("lifecycle.machine", "import datetime\n\ndef f():\n    from workflows.services import cases\n"),
        ("workflows.services.cases", "import sqlalchemy\nfrom lifecycle import machine\n"),
        ("notifications.outbox", "from workflows.persistence.tables import OutboxRow\n"),
        ("workflows.persistence.tables", "import lifecycle.events\n"),
        ("lifecycle.events", ""),
    ]
    assert check_layers(sources) == [
        "lifecycle/machine.py:4: module lifecycle.machine (domain) imports workflows.services.cases (application): "
        "not allowed",
        "notifications/outbox.py:1: module notifications.outbox (adapters) imports workflows.persistence.tables "
        "(adapters): not allowed",
    ]


def test_checker_resolves_relative_imports_and_reports_modules_outside_the_table() -> None:
    sources = [
        ("workflows", "from . import engine\n"),
        ("workflows.cli", "from . import common\nfrom ..engine import run\n"),
        ("workflows.cli.common", "from ..scheduler import start\nfrom .. import read\n"),
        ("workflows.scheduler", "from .cli import common\n"),
        ("workflows.engine", "from .persistence import tables\n"),
        ("workflows.persistence.tables", ""),
        ("workflows.read", "from workflows import queries\nimport workflows\n"),
    ]
    assert check_layers(sources, packages={"workflows.cli"}) == [
        "workflows/engine.py:1: module workflows.engine belongs to no layer",
        "workflows.py:1: module workflows (container package) imports workflows.engine (no layer): not allowed",
        "workflows/cli.py:2: module workflows.cli (entrypoints) imports workflows.engine (no layer): not allowed",
        "workflows/read.py:1: module workflows.read (application) imports workflows.queries (no layer, not found): "
        "not allowed",
        "workflows/read.py:2: module workflows.read (application) imports workflows (container package): not allowed",
        "workflows/scheduler.py:1: module workflows.scheduler (entrypoints) imports workflows.cli.common "
        "(entrypoints): not allowed",
    ]


def test_relative_import_beyond_the_top_level_package_is_an_error() -> None:
    with pytest.raises(ValueError, match="beyond top-level package"):
        check_layers([("workflows.cli.common", "from ...dashboard import app\n")])


def test_cycle_detection_reports_function_level_cycles() -> None:
    sources = [
        ("workflows.services.a", "from workflows.services import b\n"),
        ("workflows.services.b", "def later():\n    import workflows.services.c\n"),
        ("workflows.services.c", "from workflows.services.a import thing\n"),
        ("workflows.services.d", "import workflows.services.a\n"),
    ]
    (message,) = find_cycles(sources)
    assert message.startswith("import cycle between workflows.services.a, workflows.services.b, workflows.services.c")
    assert "workflows/services/b.py:2" in message
    assert find_cycles(sources[1:]) == []
