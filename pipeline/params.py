"""Write `params.yaml` from `conf/` (the one hand-edited source): `python -m pipeline.params`.

The bytes are those `dvc exp run -S ...` writes through its own Hydra composition
(`dvc.utils.hydra.compose_and_dump`: the resolved config as `OmegaConf.to_yaml`), so the two
writers never make a diff between them; hence no header comment either (DVC would drop it).
`--check` exits non-zero when the committed `params.yaml` differs from the composition. A conf/ that
does not fit the schema (a wrongly typed value, an unknown key) is refused in one line; nothing is written.
"""

from __future__ import annotations

import argparse
import sys

import yaml
from omegaconf import OmegaConf

from movierec.atomic import atomic_write_text
from movierec.config import Config, ConfigError, validate
from pipeline.stage import PARAMS_FILE, StaleParams, check_params_current, compose_params


def check_method_sections(cfg: Config) -> None:
    """The sections of methods the schema does not declare, validated by each method's config class
    (a stage validates its own when it trains the method: `train@<method>`)."""
    from movierec.methods import method_config

    for name, section in cfg.methods.items():
        if section in cfg.sections:
            try:
                method_config(cfg, name)
            except ValueError as exc:
                raise ConfigError(str(exc)) from None


def render(overrides: list[str] | None = None) -> str:
    """`params.yaml`'s text: byte for byte what DVC's Hydra composition writes."""
    return OmegaConf.to_yaml(compose_params(overrides))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--check", action="store_true", help="fail if params.yaml is stale")
    parser.add_argument("overrides", nargs="*", help="Hydra overrides, e.g. data=ml-1m")
    args = parser.parse_args(argv)
    try:  # a conf/ or an override that does not fit the schema: one line, nothing written
        composed = compose_params(args.overrides)
        check_method_sections(validate(composed))
    except ConfigError as exc:
        print(f"params: {exc}", file=sys.stderr)
        return 1
    text = OmegaConf.to_yaml(composed)
    if args.check:
        current = PARAMS_FILE.read_text() if PARAMS_FILE.exists() else ""
        try:
            check_params_current(yaml.safe_load(current) or {}, yaml.safe_load(text))
        except StaleParams as exc:
            print(exc, file=sys.stderr)
            return 1
        if current != text:
            print("params.yaml holds conf/'s values but not the bytes `make params` writes: run `make params`",
                  file=sys.stderr)
            return 1
        return 0
    atomic_write_text(PARAMS_FILE, text)
    print(f"wrote {PARAMS_FILE}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
