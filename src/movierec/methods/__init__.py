"""The recommendation methods and their registry.

The method list is configuration (``methods`` in conf/config.yaml: name -> config section); the
method named ``x`` is the class ``METHOD`` in the module ``movierec.methods.x``. Nothing else lists
methods: evaluation, the new-user protocol, the bundle, the service and its OpenAPI document all
ask here. See docs/methods.md ("Adding a method").
"""

from __future__ import annotations

import importlib
import pkgutil
import re
from pathlib import Path
from typing import Any

from movierec.config import Config
from movierec.methods.contract import FitContext, Method, TrainingData

NAME = re.compile(r"^[a-z][a-z0-9_]*$")
NOT_METHODS = frozenset({"contract"})

__all__ = ["FitContext", "Method", "TrainingData", "available_methods", "check_method_name", "configured_methods",
           "fit_method", "method_class", "method_config", "trained_dir"]


class UnknownMethod(ValueError):
    """A method name with no module ``movierec.methods.<name>``."""


def available_methods() -> list[str]:
    """Every method this installed code implements (module names; nothing is imported)."""
    return sorted(m.name for m in pkgutil.iter_modules([str(Path(__file__).parent)])
                  if not m.ispkg and m.name not in NOT_METHODS and NAME.match(m.name))


def check_method_name(name: str) -> None:
    """:class:`UnknownMethod` unless this code implements method `name` (nothing is imported)."""
    if not NAME.match(name) or name in NOT_METHODS or name not in available_methods():
        raise UnknownMethod(f"unknown method {name!r}; this code implements {available_methods()}")


def method_class(name: str) -> type[Method]:
    """The class of method `name` (imports ``movierec.methods.<name>``)."""
    check_method_name(name)
    cls = getattr(importlib.import_module(f"movierec.methods.{name}"), "METHOD", None)
    if not (isinstance(cls, type) and issubclass(cls, Method) and cls.name == name):
        raise UnknownMethod(f"movierec.methods.{name} must export METHOD, a Method subclass named {name!r}")
    return cls


def configured_methods(cfg: Config) -> list[str]:
    """The configured methods in order, each checked to exist."""
    for name in cfg.methods:
        method_class(name)
    return list(cfg.methods)


def method_config(cfg: Config, name: str) -> Any:
    """Method `name`'s config: its section of `cfg`, as an instance of its :attr:`Method.config_class`."""
    if name not in cfg.methods:
        raise UnknownMethod(f"method {name!r} is not configured; `methods` lists {list(cfg.methods)}")
    section, cls = cfg.methods[name], method_class(name)
    value = getattr(cfg, section, None) if section != "sections" else None
    if value is None:
        if section not in cfg.sections:
            raise ValueError(f"config section {section!r} of method {name!r} is missing: add conf/{section}/ "
                             f"and `- {section}: <file>` to the defaults in conf/config.yaml")
        value = cfg.sections[section]
    if isinstance(value, cls.config_class):
        return value
    try:
        return cls.config_class(**dict(value))
    except TypeError as exc:  # an unknown or missing key
        raise ValueError(f"config section {section!r} of method {name!r}: {exc}") from None


def trained_dir(models_dir: str | Path, name: str) -> Path:
    """Where `train@<name>` saves the method trained on train: models/methods/<name>/."""
    return Path(models_dir) / "methods" / name


def fit_method(name: str, data: TrainingData, cfg: Config, **context: Any) -> Method:
    """Train method `name` from `cfg` (its section, the seed and the trainer settings)."""
    return method_class(name).fit(data, method_config(cfg, name),
                                  FitContext(seed=cfg.seed, trainer=cfg.trainer, **context))
