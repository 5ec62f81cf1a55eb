"""The structure the import-linter contracts and the house rules promise, checked where the contracts cannot see:
every module sits in one layer, no module imports itself back through others, and no private name crosses a
module boundary."""

from __future__ import annotations

import ast
import tomllib
from pathlib import Path

import grimp
import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("scheduler", "integrations", "web")


@pytest.fixture(scope="module")
def graph() -> grimp.ImportGraph:
    return grimp.build_graph(*PACKAGES, cache_dir=None)  # a stale cache could hide a cycle


def layers() -> list[list[str]]:
    """The layers contract of pyproject.toml, each line split into its independent modules."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    contracts = [c for c in config["tool"]["importlinter"]["contracts"] if c["type"] == "layers"]
    assert len(contracts) == 1, "one layers contract orders the whole code base"
    return [[name.strip() for name in line.split("|")] for line in contracts[0]["layers"]]


def test_every_module_sits_in_exactly_one_layer(graph: grimp.ImportGraph) -> None:
    named = [name for line in layers() for name in line]
    assert len(named) == len(set(named)), "a module is named in two layers"
    for module in graph.modules:
        if module in PACKAGES or module == "scheduler.entrypoints":
            continue  # the containers themselves hold no code of their own (docstrings only)
        homes = [name for name in named if module == name or module.startswith(name + ".")]
        assert len(homes) == 1, f"{module} is in {len(homes)} layers of the contract: {homes}"


def test_the_containers_hold_no_code() -> None:
    # Not "web": its __init__ is the app factory, above every blueprint, and is the "web" layer itself.
    for package in ("scheduler", "integrations", "scheduler.entrypoints"):
        tree = ast.parse((ROOT / package.replace(".", "/") / "__init__.py").read_text())
        code = [node for node in tree.body if not (isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant))]
        assert not code, f"{package}/__init__.py holds code, but it is in no layer"


def strongly_connected(graph: grimp.ImportGraph) -> list[list[str]]:
    """The import cycles of ``graph``: each a group of modules that import one another (Tarjan's algorithm,
    iterative so deep graphs do not hit the recursion limit)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []
    for root in sorted(graph.modules):
        if root in index:
            continue
        work = [(root, iter(sorted(graph.find_modules_directly_imported_by(root))))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            module, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.find_modules_directly_imported_by(child)))))
                elif child in on_stack:
                    low[module] = min(low[module], index[child])
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[module])
            if low[module] == index[module]:
                group = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    group.append(member)
                    if member == module:
                        break
                if len(group) > 1:
                    cycles.append(sorted(group))
    return cycles


def test_no_import_cycle_anywhere(graph: grimp.ImportGraph) -> None:
    # grimp counts imports inside functions and behind TYPE_CHECKING, so neither hides a cycle.
    assert strongly_connected(graph) == []


def test_the_cycle_finder_finds_a_cycle() -> None:
    circle = grimp.ImportGraph()
    for name in ("a", "a.one", "a.two", "a.three"):
        circle.add_module(name)
    circle.add_import(importer="a.one", imported="a.two")
    circle.add_import(importer="a.two", imported="a.three")
    circle.add_import(importer="a.three", imported="a.one")
    assert strongly_connected(circle) == [["a.one", "a.three", "a.two"]]


def private_imports(path: Path, root: Path = ROOT) -> list[str]:
    """Each place in ``path`` (a file under ``root``) that takes a private name (``_name``) out of another module
    of the project."""
    module = ".".join(path.relative_to(root).with_suffix("").parts)
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] in (*PACKAGES, "tests"):
            found += [f"{path.relative_to(root)}:{node.lineno} imports {alias.name} from {node.module}"
                      for alias in node.names if alias.name.startswith("_") and node.module != module]
    return found


def test_no_private_name_is_imported_across_modules() -> None:
    files = [path for folder in (*PACKAGES, "bench", "tests") for path in sorted((ROOT / folder).rglob("*.py"))]
    assert [place for path in files for place in private_imports(path)] == []


def test_the_private_import_finder_finds_one(tmp_path: Path) -> None:
    probe = tmp_path / "web" / "probe.py"
    probe.parent.mkdir()
    probe.write_text("from scheduler.model import _hidden\nfrom web.probe import _own\n")
    assert private_imports(probe, tmp_path) == ["web/probe.py:1 imports _hidden from scheduler.model"]
