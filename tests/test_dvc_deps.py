"""`dvc.yaml` deps are exactly the code and files each stage uses.

Code: each stage's `cmd` is `python -m pipeline.<x>`; the transitive closure of its first-party
imports (module level and inside functions, `from a import b` where b is a submodule, and every
package `__init__.py` on the way) must be covered by a dep - the file itself or a folder holding
it - and every code dep must hold at least one file of that closure (no stale deps).

Data: a stage reads an upstream stage's output when its script names the output (`cfg.paths.X`
and a path join onto the output's name, `folder / "name"`) or calls a reader whose files are listed in
READERS; each such output must be a dep.
"""

from __future__ import annotations

import ast
import re
from functools import cache
from pathlib import Path

import pytest
import yaml

from tests.conftest import REPO_ROOT

CODE_ROOTS = {"pipeline": REPO_ROOT, "movierec": REPO_ROOT / "src"}
CODE_DIRS = ("pipeline/", "src/")

# Library readers a stage script calls with a `cfg.paths.*` folder, and the outputs they read.
READERS = {
    "load_processed": ("${paths.processed}/train.parquet", "${paths.processed}/test.parquet",
                       "${paths.processed}/movies.parquet", "${paths.processed}/vocabulary.json"),
    "read_dataset": ("${paths.raw}/${data.name}",),
    "read_predefined_split": ("${paths.raw}/${data.name}",),
    "register_bundle": ("src/movierec",),  # the whole package goes into the model (code_paths)
}


def load_dvc_yaml(path: Path = REPO_ROOT / "dvc.yaml") -> dict:
    """The stages, a `foreach` group expanded as DVC does (`train` over `methods`: train@embedding, ...)."""
    stages = {}
    for name, stage in yaml.safe_load(path.read_text())["stages"].items():
        if "foreach" not in stage:
            stages[name] = stage
            continue
        over = interpolate_value(stage["foreach"])
        for key, item in (over.items() if isinstance(over, dict) else ((v, v) for v in over)):
            text = yaml.safe_dump(stage["do"]).replace("${key}", str(key)).replace("${item}", str(item))
            stages[f"{name}@{key}"] = yaml.safe_load(text)
    return stages


def interpolate_value(text: str):
    """`${methods}` -> the value itself (a mapping or list) from params.yaml."""
    node = params()
    for key in re.fullmatch(r"\$\{([^}]+)\}", text).group(1).split("."):  # type: ignore[union-attr]
        node = node[key]
    return node


@cache
def params() -> dict:
    return yaml.safe_load((REPO_ROOT / "params.yaml").read_text())


def interpolate(text: str) -> str:
    """`${paths.raw}/${data.name}` -> `data/raw/ml-latest-small`, from params.yaml (as DVC does)."""
    def value(match: re.Match) -> str:
        node = params()
        for key in match.group(1).split("."):
            node = node[key]
        return str(node)
    return re.sub(r"\$\{([^}]+)\}", value, text)


def entries(items: list) -> list[str]:
    """dvc.yaml's list of paths, where an entry may be `{path: {options}}`."""
    return [next(iter(item)) if isinstance(item, dict) else item for item in items or []]


def module_file(name: str) -> Path | None:
    """The first-party file of module `name` (a package's `__init__.py`), or None."""
    root = CODE_ROOTS.get(name.split(".")[0])
    if root is None:
        return None
    base = root.joinpath(*name.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def with_parents(name: str) -> list[str]:
    """`a.b.c` -> `a`, `a.b`, `a.b.c`: importing a module runs every package `__init__` above it."""
    parts = name.split(".")
    return [".".join(parts[:i]) for i in range(1, len(parts) + 1)]


def imported_modules(path: Path, module: str) -> set[str]:
    """Every first-party module `path` imports, anywhere in the file."""
    is_package = path.name == "__init__.py"
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: resolve against this module's package
                package = module.split(".") if is_package else module.split(".")[:-1]
                package = package[: len(package) - node.level + 1]
                base = ".".join(package + ([node.module] if node.module else []))
            else:
                base = node.module or ""
            names = [base] + [f"{base}.{alias.name}" for alias in node.names]
        else:
            continue
        for name in names:
            for parent in with_parents(name):
                if module_file(parent) is not None:
                    found.add(parent)
    return found


def imported_by_name(name: str) -> set[str]:
    """Modules `name` imports by name (importlib): the method registry imports every method's module,
    pipeline.train_method the methods' own entry points."""
    if name == "movierec.methods":
        from movierec.methods import available_methods

        return {f"movierec.methods.{method}" for method in available_methods()}
    if name == "pipeline.train_method":
        from pipeline.train_method import OWN_ENTRY_POINT

        return set(OWN_ENTRY_POINT.values())
    return set()


def import_closure(module: str) -> set[Path]:
    """The files `python -m <module>` runs: the module, its packages and everything they import."""
    todo, seen = list(with_parents(module)), set()
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        path = module_file(name)
        assert path is not None, f"no first-party file for {name}"
        todo.extend((imported_modules(path, name) | imported_by_name(name)) - seen)
    return {module_file(name) for name in seen}  # type: ignore[misc]


def covered(path: str, deps: list[str]) -> bool:
    return any(path == dep or path.startswith(dep.rstrip("/") + "/") for dep in deps)


def stage_module(stage: dict) -> str:
    match = re.fullmatch(r"python -m (pipeline\.\w+)( \w+)?", stage["cmd"].strip())
    assert match, f"stage cmd is not `python -m pipeline.<x>`: {stage['cmd']!r}"
    return match.group(1)


def code_gaps(stage: dict) -> tuple[list[str], list[str]]:
    """(files the stage imports that no dep covers, code deps that hold none of its files)."""
    deps = [interpolate(d) for d in entries(stage.get("deps"))]
    files = sorted(str(p.relative_to(REPO_ROOT)) for p in import_closure(stage_module(stage)))
    missing = [f for f in files if not covered(f, deps)]
    stale = [d for d in deps if d.startswith(CODE_DIRS) and not any(covered(f, [d]) for f in files)]
    return missing, stale


def script_names(path: Path) -> tuple[set[str], set[str], set[str]]:
    """(names joined onto a path, `folder / "name"`; `paths.X`/`data.X` attributes; called functions)."""
    literals, attributes, calls = set(), set(), set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Div) and isinstance(node.right, ast.Constant):
            literals.add(str(node.right.value))
        elif isinstance(node, ast.Attribute) and isinstance(node.value, ast.Attribute):
            attributes.add(f"{node.value.attr}.{node.attr}")
        elif isinstance(node, ast.Call):
            func = node.func
            calls.add(func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", ""))
    return literals, attributes, calls


def reads(name: str, stages: dict) -> set[str]:
    """The other stages' outputs (as written in dvc.yaml) that stage `name`'s script reads."""
    stage = stages[name]
    script = REPO_ROOT / (stage_module(stage).replace(".", "/") + ".py")
    literals, attributes, calls = script_names(script)
    own = set(entries(stage.get("outs"))) | set(entries(stage.get("metrics"))) | set(entries(stage.get("plots")))
    found = {out for reader, outs in READERS.items() if reader in calls for out in outs}
    for other, spec in stages.items():
        if other == name:
            continue
        for out in entries(spec.get("outs")) + entries(spec.get("metrics")) + entries(spec.get("plots")):
            match = re.fullmatch(r"\$\{paths\.(\w+)\}/([^/]+)", out)
            if match and f"paths.{match.group(1)}" in attributes:
                leaf = match.group(2)
                variable = re.fullmatch(r"\$\{(\w+\.\w+)\}", leaf)
                if (variable and variable.group(1) in attributes) or leaf in literals:
                    found.add(out)
    return found - own


def test_readers_name_what_they_read():
    """READERS' entry for register_bundle holds while the model is logged with the whole package."""
    from movierec.registry import register

    assert register.PACKAGE_DIR == REPO_ROOT / "src" / "movierec"
    assert "code_paths=[str(PACKAGE_DIR)]" in Path(register.__file__).read_text()


STAGES = load_dvc_yaml()


@pytest.mark.parametrize("name", sorted(STAGES))
def test_deps_cover_the_code_the_stage_imports(name):
    missing, stale = code_gaps(STAGES[name])
    assert not missing, f"stage {name} imports files no dep covers: {missing}"
    assert not stale, f"stage {name} lists code deps it does not import: {stale}"


@pytest.mark.parametrize("name", sorted(STAGES))
def test_deps_cover_the_outputs_the_stage_reads(name):
    deps = [interpolate(d) for d in entries(STAGES[name].get("deps"))]
    missing = sorted(out for out in reads(name, STAGES) if not covered(interpolate(out), deps))
    assert not missing, f"stage {name} reads outputs that are not deps: {missing}"


def test_the_closure_follows_function_level_and_submodule_imports(tmp_path):
    """The walker itself: the stage scripts' known imports are found, through packages too."""
    files = {str(p.relative_to(REPO_ROOT)) for p in import_closure("pipeline.train")}
    assert {"pipeline/__init__.py", "pipeline/stage.py", "pipeline/memory.py", "src/movierec/__init__.py",
            "src/movierec/config/__init__.py", "src/movierec/models/embedding/__init__.py",
            "src/movierec/models/embedding/fit.py"} <= files
    # `from movierec.data import synthetic` (a submodule) inside a function
    probe = tmp_path / "probe.py"
    probe.write_text("def f():\n    from movierec.data import synthetic\n")
    assert "movierec.data.synthetic" in imported_modules(probe, "probe")


def test_the_checks_fail_on_a_missing_dep():
    """Drop one code dep and one data dep from a copy of a stage: both checks notice."""
    stages = load_dvc_yaml()
    evaluate = stages["evaluate"]
    evaluate["deps"] = [d for d in evaluate["deps"] if d not in ("src/movierec/serving", "${paths.models}/bundle")]
    missing, _ = code_gaps(evaluate)
    assert any(f.startswith("src/movierec/serving/") for f in missing)
    assert "${paths.models}/bundle" in reads("evaluate", stages)
    deps = [interpolate(d) for d in evaluate["deps"]]
    assert not covered(interpolate("${paths.models}/bundle"), deps)
