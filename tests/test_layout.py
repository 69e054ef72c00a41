"""The package's layout: the tool (htmu) never imports the study (htmu.study), and every public name resolves."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"
TOOL_MODULES = sorted(
    ".".join(p.relative_to(SRC).with_suffix("").parts).removesuffix(".__init__")
    for p in (SRC / "htmu").rglob("*.py")
    if "study" not in p.relative_to(SRC / "htmu").parts
)


def _imports(path: Path) -> list[tuple[int, str]]:
    """Every module an import statement of ``path`` names (at any depth: lazy imports count)."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # a relative import hides what it names; the package uses none
                found.append((node.lineno, "." * node.level + (node.module or "")))
            else:
                found += [(node.lineno, f"{node.module}.{alias.name}") for alias in node.names]
    return found


def test_tool_modules_are_found():
    assert {"htmu", "htmu.laws", "htmu.fit", "htmu.fit.estimate", "htmu.cli", "htmu.analysis"} <= set(
        TOOL_MODULES
    )
    assert not any(m.startswith("htmu.study") for m in TOOL_MODULES)


@pytest.mark.parametrize("module", TOOL_MODULES)
def test_tool_never_imports_the_study(module):
    """Static check: no import statement of a tool module names htmu.study (nor a relative module)."""
    path = SRC / (module.replace(".", "/") + ".py")
    if not path.exists():
        path = SRC / module.replace(".", "/") / "__init__.py"
    bad = [(line, name) for line, name in _imports(path) if name.startswith((".", "htmu.study"))]
    assert not bad, f"{path.relative_to(SRC)} imports {bad}"


def test_tool_imports_and_runs_without_the_study(tmp_path):
    """Dynamic check: with htmu.study unimportable, every tool module imports and the CLI answers."""
    code = f"""
import importlib, sys

class NoStudy:
    def find_spec(self, name, path=None, target=None):
        if name == "htmu.study" or name.startswith("htmu.study."):
            raise ImportError(f"{{name}} is the study: the tool must not import it")
        return None

sys.meta_path.insert(0, NoStudy())
for name in {TOOL_MODULES!r}:
    importlib.import_module(name)
import htmu
for name in htmu.__all__:
    getattr(htmu, name)
from htmu.cli import main
assert main(["fit", "{tmp_path / "x.npy"}", "--gamma", "0.5", "--form", "direct"]) == 2  # missing file: one line
"""
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env={"PYTHONPATH": str(SRC)}
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "no such file" in proc.stderr


def test_every_public_name_resolves():
    """``from htmu import X`` for every name of the lazy table, and the subpackages' own __all__."""
    import htmu.fit

    for name in htmu.__all__:
        assert getattr(htmu, name) is not None, name
    for name in htmu.fit.__all__:
        assert getattr(htmu.fit, name) is not None, name
    with pytest.raises(AttributeError, match="no attribute 'nothing'"):
        htmu.nothing  # noqa: B018
