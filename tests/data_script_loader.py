"""Import a script of ``data_scripts/`` (not a package) as a module, for the tests of its CLI."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

REPO = Path(__file__).resolve().parents[1]


def load_data_script(name: str) -> ModuleType:
    """``data_scripts/<name>.py`` as module ``name`` (registered in ``sys.modules`` once)."""
    spec = importlib.util.spec_from_file_location(name, REPO / "data_scripts" / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault(name, module)
    spec.loader.exec_module(module)
    return module
