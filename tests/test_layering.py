"""The layering the code keeps (README, "Layout"): `apps/core` imports no other app, the
product never imports the tools that run it (devstack/, bench/, tests/), and no two modules
import each other. Read from the source, function-level imports included."""

import ast
import itertools
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PRODUCT = ("apps", "tanka")


def _imports() -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for package in (*PRODUCT, "devstack", "bench"):
        for path in (ROOT / package).rglob("*.py"):
            relative = path.relative_to(ROOT)
            if "tests" in relative.parts or "migrations" in relative.parts:
                continue
            module = ".".join(relative.with_suffix("").parts).removesuffix(".__init__")
            names: set[str] = set()
            for node in ast.walk(ast.parse(path.read_text())):
                if isinstance(node, ast.ImportFrom) and node.module and not node.level:
                    names.add(node.module)
                    names.update(f"{node.module}.{alias.name}" for alias in node.names)
                elif isinstance(node, ast.Import):
                    names.update(alias.name for alias in node.names)
            found[module] = names
    return found


def test_no_two_modules_import_each_other():
    imports = _imports()
    cycles = [
        (a, b) for a, b in itertools.combinations(imports, 2) if b in imports[a] and a in imports[b]
    ]
    assert cycles == []


def test_core_imports_no_other_app():
    offending = {
        module: sorted(n for n in names if n.startswith("apps.") and not n.startswith("apps.core"))
        for module, names in _imports().items()
        if module.startswith("apps.core")
    }
    assert {module: names for module, names in offending.items() if names} == {}


def test_the_product_never_imports_the_tools_that_run_it():
    offending = {
        module: sorted(n for n in names if n.split(".")[0] in ("devstack", "bench", "tests"))
        for module, names in _imports().items()
        if module.split(".")[0] in PRODUCT
    }
    assert {module: names for module, names in offending.items() if names} == {}
