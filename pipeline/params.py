"""Write `params.yaml` from `conf/` (the one hand-edited source): `python -m pipeline.params`.

`--check` exits non-zero when the committed `params.yaml` differs from the composition.
"""

from __future__ import annotations

import argparse
import sys

import yaml

from movierec.atomic import atomic_write_text
from pipeline.stage import PARAMS_FILE, compose_params

HEADER = "# GENERATED from conf/ by `python -m pipeline.params` - edit conf/, not this file.\n"


def render(overrides: list[str] | None = None) -> str:
    return HEADER + yaml.safe_dump(compose_params(overrides), sort_keys=False)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--check", action="store_true", help="fail if params.yaml is stale")
    parser.add_argument("overrides", nargs="*", help="Hydra overrides, e.g. data=ml-1m")
    args = parser.parse_args(argv)
    text = render(args.overrides)
    if args.check:
        current = PARAMS_FILE.read_text() if PARAMS_FILE.exists() else ""
        if yaml.safe_load(current) != yaml.safe_load(text):
            print("params.yaml differs from conf/: run `make params`", file=sys.stderr)
            return 1
        return 0
    atomic_write_text(PARAMS_FILE, text)
    print(f"wrote {PARAMS_FILE}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
