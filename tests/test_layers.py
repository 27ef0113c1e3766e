"""The layers of docs/architecture.md hold: the import-linter contract in
pyproject.toml is kept, and no module of tenure imports the package itself
(its public names pull in every layer)."""

from __future__ import annotations

import ast
import os
import shutil
import subprocess
import sys
from pathlib import Path

from tests.conftest import skip_or_fail

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src" / "tenure"


def test_the_import_contract_is_kept():
    exe = shutil.which("lint-imports") or str(Path(sys.executable).with_name("lint-imports"))
    if not Path(exe).exists():
        skip_or_fail("lint-imports is missing: pip install 'tenure[test]'")
    env = dict(
        os.environ,
        PYTHONPATH=os.pathsep.join([str(ROOT / "src"), os.environ.get("PYTHONPATH", "")]),
    )
    done = subprocess.run(
        [exe, "--no-cache"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    assert " 0 broken." in done.stdout


def _is_module(name: str) -> bool:
    return (SRC / f"{name}.py").exists() or (SRC / name / "__init__.py").exists()


def test_no_module_imports_the_package_facade():
    found = []
    for path in SRC.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module == "tenure" and node.level == 0:
                # a submodule (from tenure import profiles) is fine; a name is not
                names = [a.name for a in node.names if not _is_module(a.name)]
                if names:
                    found.append(f"{path.relative_to(ROOT)}:{node.lineno} {names}")
    assert found == [], "import from the module that holds the name, not from tenure"


def test_no_module_imports_a_private_name_of_another_package():
    found = []
    for path in SRC.rglob("*.py"):
        package = path.relative_to(SRC).parts[0]
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.ImportFrom) or not (node.module or "").startswith(
                "tenure."
            ):
                continue
            other = node.module.split(".")[1]
            if other == package:
                continue
            private = [
                a.name for a in node.names if a.name.startswith("_") and a.name != "__version__"
            ]
            if private or any(
                p.startswith("_") and p != "_version" for p in node.module.split(".")[2:]
            ):
                found.append(f"{path.relative_to(ROOT)}:{node.lineno} {node.module} {private}")
    assert found == []


def test_tests_build_their_stores_below_the_command_line():
    # a fixture that needs a demo store uses the library (tenure.datasets,
    # tenure.ingestion, tenure.datamodel.INGEST_ORDER), not the demo command's
    # internals, so that the command can change without breaking other tests
    found = []
    tests = ROOT / "tests"
    for path in tests.rglob("*.py"):
        if path == tests / "cli" / "test_demo.py":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and (node.module or "") == "tenure.cli.demo":
                found.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert found == []
