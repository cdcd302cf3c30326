"""Import a script of benchmarks/ (not a package) as a module, for the tests that run it in its small mode."""
from __future__ import annotations

import importlib.util
import sys
from types import ModuleType

from skipdit_lib.paths import REPO_ROOT


def load_benchmark(name: str) -> ModuleType:
    """benchmarks/<name>.py as module `name` (registered in sys.modules: its dataclasses look it up there)."""
    spec = importlib.util.spec_from_file_location(name, REPO_ROOT / "benchmarks" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module
