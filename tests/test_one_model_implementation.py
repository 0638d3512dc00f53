"""Issue 23, item 4: the model has one implementation, the package's. Scripts outside
src/movierec (benchmarks, stages, service) use it; none defines a torch network of its own
(benchmarks/research_common.py was such a copy, with other defaults, and was removed)."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def torch_modules(path: Path) -> list[str]:
    """Classes in `path` (nested ones too) that subclass ``nn.Module`` / ``torch.nn.Module`` /
    ``LightningModule``."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.ClassDef):
            bases = [ast.unparse(base) for base in node.bases]
            if any(b.endswith(("nn.Module", "LightningModule")) or b == "Module" for b in bases):
                found.append(f"{path.relative_to(ROOT)}:{node.lineno} class {node.name}")
    return found


def test_no_second_model_outside_the_package():
    scripts = [p for folder in ("benchmarks", "pipeline", "serve") for p in sorted((ROOT / folder).rglob("*.py"))]
    assert scripts
    copies = [hit for path in scripts for hit in torch_modules(path)]
    assert not copies, f"a torch model outside src/movierec (import movierec.models instead): {copies}"


def test_the_check_finds_a_nested_copy(tmp_path, monkeypatch):
    monkeypatch.setattr("tests.test_one_model_implementation.ROOT", tmp_path)
    script = tmp_path / "copy.py"
    script.write_text("import torch.nn as nn\n\ndef build():\n    class Net(nn.Module):\n        pass\n")
    assert torch_modules(script) == ["copy.py:4 class Net"]
