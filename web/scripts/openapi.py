"""Write the service's OpenAPI document to `web/openapi.json` and its TypeScript types to
`web/src/lib/api-types.ts` (openapi-typescript), so the page's client cannot drift from the API.

    python web/scripts/openapi.py          # regenerate both (or: make api-types; cd web && npm run gen:api)
    python web/scripts/openapi.py --check  # exit 1 if either committed file is stale (npm run check:api)

Run it with the project's Python (`.venv/bin/python`: it imports `serve` and `movierec`); the types
need `npm ci` in web/ first.

The spec is the one `/openapi.json` serves: importing `serve` declares every route; no model,
MLflow store or server is needed. `tests/serve/test_web_types.py` runs the same check in pytest.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

WEB = Path(__file__).resolve().parents[1]
REPO_ROOT = WEB.parent
SPEC_FILE = WEB / "openapi.json"
TYPES_FILE = WEB / "src" / "lib" / "api-types.ts"
GENERATOR = WEB / "node_modules" / ".bin" / "openapi-typescript"
# A parameter or body field with a default stays optional (`k?`); an open object is `Record<string, unknown>`.
GENERATOR_OPTIONS = ("--default-non-nullable", "false", "--empty-objects-unknown")
REGENERATE = "make api-types  (= .venv/bin/python web/scripts/openapi.py; or: cd web && npm run gen:api)"


def spec_document() -> dict:
    """The document `/openapi.json` answers with, built from the route declarations."""
    if str(REPO_ROOT) not in sys.path:
        sys.path.insert(0, str(REPO_ROOT))
    import serve  # noqa: F401  (declares every route, and with it every operation and schema)
    from serve.schemas import spec

    return spec.document()


def spec_text(document: dict) -> str:
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def generate_types(spec_file: Path, out_file: Path) -> None:
    """openapi-typescript `spec_file` -> `out_file` (needs `npm ci` in web/)."""
    if not GENERATOR.exists():
        raise SystemExit(f"{GENERATOR} is missing: run `cd web && npm ci`")
    subprocess.run([str(GENERATOR), str(spec_file), "--output", str(out_file), *GENERATOR_OPTIONS], check=True,
                   cwd=WEB, stdout=subprocess.DEVNULL)


def main(argv: list[str]) -> int:
    check = "--check" in argv
    text = spec_text(spec_document())
    if not check:
        SPEC_FILE.write_text(text)
        generate_types(SPEC_FILE, TYPES_FILE)
        print(f"wrote {SPEC_FILE.relative_to(REPO_ROOT)} and {TYPES_FILE.relative_to(REPO_ROOT)}")
        return 0
    stale = []
    if not SPEC_FILE.exists() or json.loads(SPEC_FILE.read_text()) != json.loads(text):
        stale.append(SPEC_FILE)
    with tempfile.TemporaryDirectory() as tmp:
        spec, types = Path(tmp) / "openapi.json", Path(tmp) / "api-types.ts"
        spec.write_text(text)
        generate_types(spec, types)
        if not TYPES_FILE.exists() or TYPES_FILE.read_text() != types.read_text():
            stale.append(TYPES_FILE)
    for path in stale:
        print(f"stale: {path.relative_to(REPO_ROOT)}", file=sys.stderr)
    if stale:
        print(f"regenerate with: {REGENERATE}", file=sys.stderr)
    return 1 if stale else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
