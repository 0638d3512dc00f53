"""The page's API types are current: `web/openapi.json` is the document the service serves, and
`web/src/lib/api-types.ts` is what openapi-typescript makes of it. Either one stale fails here,
naming the command that regenerates both (`web/scripts/openapi.py`)."""

from __future__ import annotations

import difflib
import importlib.util
import json
import os
import shutil
from pathlib import Path

import pytest

from serve.openapi import without_methods

REPO_ROOT = Path(__file__).resolve().parents[2]
SCRIPT = REPO_ROOT / "web" / "scripts" / "openapi.py"


def _load_script():
    spec = importlib.util.spec_from_file_location("web_openapi_script", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


gen = _load_script()


def _stale(path: Path, diff: list[str] = ()) -> str:
    shown = "".join(list(diff)[:40])
    return (f"{path.relative_to(REPO_ROOT)} is stale; regenerate it (then commit it) with: {gen.REGENERATE}"
            + (f"\n{shown}" if shown else ""))


def test_committed_spec_is_the_served_one(client):
    """The served document less the model's method names and reason codes (enums filled in at runtime)."""
    served = without_methods(client.get("/openapi.json").get_json())
    committed = json.loads(gen.SPEC_FILE.read_text())
    if committed != served:
        diff = difflib.unified_diff(gen.spec_text(committed).splitlines(True), gen.spec_text(served).splitlines(True),
                                    "web/openapi.json (committed)", "/openapi.json (served)")
        pytest.fail(_stale(gen.SPEC_FILE, diff), pytrace=False)


def test_the_script_writes_the_served_spec(client):
    """`web/scripts/openapi.py` builds the document without an app; it must be the one the app serves."""
    assert gen.spec_document() == without_methods(client.get("/openapi.json").get_json())


def test_generated_types_are_current(tmp_path):
    if not gen.GENERATOR.exists() or shutil.which("node") is None:
        why = f"{gen.GENERATOR.relative_to(REPO_ROOT)} or node is missing: run `cd web && npm ci` (or `make web`)"
        if os.environ.get("CI"):
            pytest.fail(why, pytrace=False)
        pytest.skip(why)
    out = tmp_path / "api-types.ts"
    gen.generate_types(gen.SPEC_FILE, out)
    fresh, committed = out.read_text(), gen.TYPES_FILE.read_text()
    if fresh != committed:
        diff = difflib.unified_diff(committed.splitlines(True), fresh.splitlines(True),
                                    "api-types.ts (committed)", "api-types.ts (generated)")
        pytest.fail(_stale(gen.TYPES_FILE, diff), pytrace=False)
