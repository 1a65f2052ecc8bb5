"""The layout keeps its shape: import contracts, no import cycle, modules of a readable size.

The contracts themselves are in pyproject.toml ([tool.importlinter]); this runs
`lint-imports` on them, so the test command (and `.ci/run`) checks them.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import grimp

ROOT = Path(__file__).resolve().parents[2]
LONG = 420  # lines; "about 400"
REASON = "over 400 lines"  # what a longer module's docstring says, with why it is one piece


def test_the_import_contracts_hold() -> None:
    lint = Path(sys.executable).with_name("lint-imports")
    done = subprocess.run(
        [str(lint), "--no-cache"], cwd=ROOT, capture_output=True, text=True, timeout=300, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "0 broken" in done.stdout


def _cycles(graph: grimp.ImportGraph) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0
    for root in sorted(graph.modules):
        if root in index:
            continue
        work = [(root, iter(sorted(graph.find_modules_directly_imported_by(root))))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.find_modules_directly_imported_by(child)))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
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
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def test_no_module_imports_itself_back() -> None:
    """Not even through a package's __init__ or an import inside a function."""
    graph = grimp.build_graph("nudge", cache_dir=None)
    assert _cycles(graph) == []


def test_long_modules_say_why_they_are_one_piece() -> None:
    long = []
    for path in sorted((ROOT / "nudge").rglob("*.py")):
        if "core" in path.relative_to(ROOT / "nudge").parts:
            continue
        text = path.read_text(encoding="utf-8")
        doc = ast.get_docstring(ast.parse(text)) or ""
        if len(text.splitlines()) > LONG and REASON not in doc:
            long.append(f"{path.relative_to(ROOT)}: {len(text.splitlines())} lines")
    assert long == []


def _past_the_owner_filter(tree: ast.AST) -> list[tuple[int, str]]:
    """Statements the owner filter (store/owner.py) cannot see: SQL text, and tables behind the models.

    `sa.text(...)` / `text(...)` is SQL the ORM never reads; `Model.__table__` is the Core table,
    whose statements get no `WHERE owner_id = ...`. Reading a table's column names
    (`"x" in Model.__table__.c`) builds no statement and is allowed.
    """
    parents: dict[ast.AST, ast.AST] = {}
    for node in ast.walk(tree):
        for child in ast.iter_child_nodes(node):
            parents[child] = node
    libraries = {"sa", "sqlalchemy", "sqlmodel"}
    imported = {
        alias.asname or alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] in libraries
        for alias in node.names
        if alias.name == "text"
    }
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            func = node.func
            if (
                isinstance(func, ast.Attribute)
                and func.attr == "text"
                and isinstance(func.value, ast.Name)
                and func.value.id in libraries
            ) or (isinstance(func, ast.Name) and func.id in imported):
                found.append((node.lineno, "text(...)"))
        if isinstance(node, ast.Attribute) and node.attr == "__table__":
            up = parents.get(node)
            compare = parents.get(up) if isinstance(up, ast.Attribute) and up.attr == "c" else None
            if not (isinstance(compare, ast.Compare) and isinstance(compare.ops[0], ast.In | ast.NotIn)):
                found.append((node.lineno, ".__table__"))
    return sorted(found)


def test_every_statement_outside_the_store_goes_through_the_owner_filter() -> None:
    """Outside nudge/store, no SQL text and no statement on `Model.__table__`: the models' forms only."""
    found = []
    for path in sorted((ROOT / "nudge").rglob("*.py")):
        if "store" in path.relative_to(ROOT / "nudge").parts:
            continue
        for line, what in _past_the_owner_filter(ast.parse(path.read_text(encoding="utf-8"))):
            found.append(f"{path.relative_to(ROOT)}:{line}: {what}")
    assert found == []


def test_the_owner_check_finds_what_it_forbids() -> None:
    """The check above, on the forms it must catch and the one it must let through."""
    code = (
        "from sqlalchemy import text as raw\n"
        "t = Touch.__table__\n"
        "session.connection().execute(Contact.__table__.insert(), rows)\n"
        "session.execute(sa.text('SELECT * FROM touch'))\n"
        "ok = 'contact_id' in Note.__table__.c\n"
        "session.execute(raw('DELETE FROM note'))\n"
        "name = element.text('x')\n"
    )
    assert [line for line, _ in _past_the_owner_filter(ast.parse(code))] == [2, 3, 4, 6]
