"""The library reads downward: no module imports a layer above its own."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

from skipdit_lib.paths import REPO_ROOT

PACKAGE = REPO_ROOT / "skipdit_lib"
# Each layer may import only the layers listed before it (and itself).
LAYERS = ["io", "paths", "profiles", "precision", "diffusion", "models", "datasets", "caching", "training",
          "evaluation", "analysis", "plotting", "zoo", "experiments", "results", "summary", "run"]


def layer_of(module: str) -> str:
    """`skipdit_lib.caching.hooks` -> "caching"."""
    return module.split(".")[1]


def imported_modules(path: Path, root: Path = REPO_ROOT) -> set[str]:
    """Every skipdit_lib module `path` imports, as absolute dotted names (function-level imports included)."""
    parts = list(path.relative_to(root).with_suffix("").parts)
    package = parts[:-1] if parts[-1] != "__init__" else parts[:-1]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1] if node.level else []
            name = ".".join(base + ([node.module] if node.module else []))
            found |= {f"{name}.{a.name}" if not node.module or name == "skipdit_lib" else name for a in node.names}
        elif isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
    return {m for m in found if m.startswith("skipdit_lib.")}


FILES = sorted(p for p in PACKAGE.rglob("*.py") if p.name != "__init__.py" or p.parent != PACKAGE)


@pytest.mark.parametrize("path", FILES, ids=[str(p.relative_to(PACKAGE)) for p in FILES])
def test_no_import_runs_up_a_layer(path: Path):
    own = LAYERS.index(path.relative_to(PACKAGE).parts[0].removesuffix(".py"))
    upward = sorted(m for m in imported_modules(path) if m.split(".")[1] in LAYERS
                    and LAYERS.index(layer_of(m)) > own)
    assert not upward, f"{path.relative_to(REPO_ROOT)} imports {upward} from a layer above its own"


def test_the_check_sees_relative_and_function_level_imports(tmp_path):
    module = tmp_path / "skipdit_lib" / "diffusion" / "upward.py"
    module.parent.mkdir(parents=True)
    module.write_text("from ..caching import hooks\nimport torch\n\ndef f():\n"
                      "    from skipdit_lib.evaluation.cost import count_flops\n")
    assert imported_modules(module, tmp_path) == {"skipdit_lib.caching", "skipdit_lib.evaluation.cost"}
    found = imported_modules(PACKAGE / "experiments" / "bench.py")
    assert {"skipdit_lib.diffusion.sampling", "skipdit_lib.evaluation.methods"} <= found
