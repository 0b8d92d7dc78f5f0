"""The library's layers: no lower layer imports a higher one.

Read from the source (every ``import`` and ``from ... import``, at module level or inside a
function, ``TYPE_CHECKING`` blocks included), so a test run cannot miss an import that a code path
makes only sometimes. The layers, lowest first:

* the core: ``rankatt_lib`` itself (device, threads), ``registry``, ``configs``;
* ``features`` (geometry, the VGG16 backbone): the core only;
* ``components`` (the paper's pieces): the core and features, never a tracker;
* ``trackers``: the core, features and components;
* ``data``: the core only (a dataset never tracks, never scores);
* ``evaluation`` (metrics, results, the runner): the core and data; no torch, no matplotlib, no
  features, components or trackers (a tracker reaches the runner through the registry, by name);
* ``training``: the core, features, components and data;
* ``toolkits`` (other toolkits' layouts and loops, videos): everything below experiments;
* ``experiments`` (the OTB experiment, plots, bench) and the command line: anything.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

LIB = Path(__file__).resolve().parents[1] / "rankatt_lib"
ALLOWED: dict[str, set[str]] = {
    "core": set(),
    "features": {"features"},
    "components": {"features", "components"},
    "trackers": {"features", "components", "trackers"},
    "data": {"data"},
    "evaluation": {"data", "evaluation"},
    "training": {"features", "components", "data", "training"},
    "toolkits": {"features", "components", "trackers", "data", "evaluation", "training", "toolkits"},
}
FORBIDDEN_EXTERNAL: dict[str, set[str]] = {
    "data": {"matplotlib"},
    "evaluation": {"torch", "torchvision", "matplotlib"},
    "components": {"matplotlib"},
    "features": {"matplotlib"},
    "trackers": {"matplotlib"},
}


def layer_of(path: Path) -> str:
    rel = path.relative_to(LIB)
    if len(rel.parts) == 1:
        return "cli" if rel.stem == "__main__" else "core"
    return rel.parts[0]


def imports_of(path: Path) -> list[tuple[int, str]]:
    """``(line, dotted module)`` for every import in the file, relative ones resolved."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = ".".join(("rankatt_lib", *path.relative_to(LIB).parent.parts))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            # ``from rankatt_lib import data`` imports the subpackage ``data``
            if module == "rankatt_lib":
                found += [(node.lineno, f"rankatt_lib.{a.name}") for a in node.names]
            else:
                found.append((node.lineno, module))
    return found


def target_layer(module: str) -> str | None:
    parts = module.split(".")
    if parts[0] != "rankatt_lib":
        return None
    if len(parts) > 1 and (LIB / parts[1]).is_dir():
        return parts[1]
    return "core"  # rankatt_lib itself, registry, configs, and names defined in rankatt_lib/__init__


def violations(path: Path) -> list[str]:
    layer = layer_of(path)
    if layer not in ALLOWED:  # experiments and the command line may import anything
        return []
    out = []
    for line, module in imports_of(path):
        target = target_layer(module)
        where = f"{path.relative_to(LIB.parent)}:{line}"
        if target is not None and target != "core" and target not in ALLOWED[layer]:
            out.append(f"{where}: the {layer} layer imports {module} ({target})")
        if target is None and module.split(".")[0] in FORBIDDEN_EXTERNAL.get(layer, set()):
            out.append(f"{where}: the {layer} layer imports {module}")
    return out


LIBRARY_FILES = sorted(LIB.rglob("*.py"))


def test_every_module_belongs_to_a_known_layer():
    layers = {layer_of(p) for p in LIBRARY_FILES}
    assert layers <= set(ALLOWED) | {"experiments", "cli"}, layers - set(ALLOWED)
    # and every layer named here exists, so a renamed folder cannot slip past the rules
    assert {p.name for p in LIB.iterdir() if (p / "__init__.py").exists()} == set(ALLOWED) - {"core"} | {"experiments"}


@pytest.mark.parametrize("path", LIBRARY_FILES, ids=lambda p: str(p.relative_to(LIB)))
def test_no_lower_layer_imports_a_higher_one(path):
    assert violations(path) == []


def test_the_library_never_imports_the_books_helpers():
    users = [f"{p.relative_to(LIB.parent)}:{line}" for p in LIBRARY_FILES for line, module in imports_of(p)
             if module.split(".")[0] == "rankatt_book"]
    assert users == []


def test_the_rule_catches_a_component_that_imports_a_tracker(tmp_path, monkeypatch):
    # the check itself: the import that issue #17 found in parts.py (a component reaching up into
    # trackers/base.py inside a function) is reported, and so is matplotlib in evaluation
    fake = LIB / "components" / "parts.py"
    source = "def f():\n    from rankatt_lib.trackers.base import SampleBuffer\n    return SampleBuffer\n"
    monkeypatch.setattr(Path, "read_text", lambda self, encoding=None: source)
    assert violations(fake) == [
        "rankatt_lib/components/parts.py:2: the components layer imports rankatt_lib.trackers.base (trackers)"
    ]
    fake = LIB / "evaluation" / "metrics.py"
    source = "import matplotlib.pyplot as plt\nfrom ..features import vgg16\n"
    assert violations(fake) == [
        "rankatt_lib/evaluation/metrics.py:1: the evaluation layer imports matplotlib.pyplot",
        "rankatt_lib/evaluation/metrics.py:2: the evaluation layer imports rankatt_lib.features (features)",
    ]
