"""Keep or drop an experiment that `dvc exp run -S key=value` applied to the workspace.

    python -m pipeline.experiment keep   # make keep-exp: params.yaml's changed values into conf/
    python -m pipeline.experiment drop   # make drop-exp: params, outputs and reports as committed

`dvc exp run -S` writes conf/ + the overrides into params.yaml, runs the pipeline and leaves the
result in the workspace; conf/ (the one hand-edited config) does not change, so a later plain
`dvc repro` stops: params.yaml differs from conf/.

keep: writes each differing value into the conf/ file it comes from: a top-level key into
conf/config.yaml, a key of a config group into the selected option's file (model.* into
conf/model/embedding.yaml); a group nearer another option (``-S data=ml-1m``) first becomes that
choice in conf/config.yaml's defaults list. Comments and layout stay (ruamel.yaml round trip);
a value written as an interpolation (``${...}``) is only replaced when it still differs once the
plain values are written. Afterwards params.yaml is exactly `make params`'s output and dvc.lock
already describes it: `dvc repro` has nothing to do but `register`.

drop: restores params.yaml, dvc.lock and every git-tracked pipeline output (reports/) from the
last commit, then `dvc checkout --force` puts the committed models and data back from DVC's cache
(the experiment's own outputs stay in the cache: `dvc exp apply <name>` brings them back).
"""

from __future__ import annotations

import argparse
import io
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap

from movierec.atomic import atomic_write_text
from movierec.config import compose
from movierec.registry.lineage import pipeline_outputs
from pipeline.stage import CONF_DIR, PARAMS_FILE, REPO_ROOT, differing_keys


class ExperimentError(RuntimeError):
    """The applied experiment cannot be kept or dropped; the message says why."""


def round_trip() -> YAML:
    """ruamel.yaml set to write conf/'s layout back unchanged (2-space maps, `  - ` lists)."""
    rt = YAML()
    rt.preserve_quotes = True
    rt.width = 4096
    rt.indent(mapping=2, sequence=4, offset=2)
    rt.representer.add_representer(type(None), _null)
    return rt


def _null(representer, _data):  # `key: null` as written, not `key:`
    return representer.represent_scalar("tag:yaml.org,2002:null", "null")


def load_rt(path: Path) -> CommentedMap:
    data = round_trip().load(path.read_text())
    return data if data is not None else CommentedMap()


def dump_rt(path: Path, data: CommentedMap) -> None:
    out = io.StringIO()
    round_trip().dump(data, out)
    atomic_write_text(path, out.getvalue())


def group_choices(conf_dir: Path) -> dict[str, str]:
    """conf/config.yaml's defaults list as {group: option} (only `group: option` entries)."""
    choices: dict[str, str] = {}
    for item in load_rt(conf_dir / "config.yaml").get("defaults") or []:
        if isinstance(item, dict):
            for group, option in item.items():
                if (conf_dir / str(group)).is_dir() and isinstance(option, str):
                    choices[str(group)] = option
    return choices


def set_choice(conf_dir: Path, group: str, option: str) -> None:
    data = load_rt(conf_dir / "config.yaml")
    for item in data["defaults"]:
        if isinstance(item, dict) and group in item:
            item[group] = option
    dump_rt(conf_dir / "config.yaml", data)


def switch_groups(conf_dir: Path, params: dict) -> list[str]:
    """Every group whose params are nearer another option than the selected one (fewer differing keys;
    ``-S data=synthetic -S data.synthetic.n_users=500``) becomes that choice; the rest of the
    differences are then values in that option's file."""
    composed, switched = compose(conf_dir), []
    for group, current in group_choices(conf_dir).items():
        best, nearest = len(differing_keys(params.get(group), composed.get(group))), current
        if best == 0:
            continue
        for option in sorted(p.stem for p in (conf_dir / group).glob("*.yaml")):
            if option != current:
                differing = len(differing_keys(params.get(group), compose(conf_dir, [f"{group}={option}"]).get(group)))
                if differing < best:
                    best, nearest = differing, option
        if nearest != current:
            set_choice(conf_dir, group, nearest)
            switched.append(f"{group}={nearest} -> conf/config.yaml")
    return switched


def source_file(conf_dir: Path, key: str) -> tuple[Path, list[str]]:
    """The conf/ file a dotted key is written in, and the key's path inside it."""
    parts = key.split(".")
    choice = group_choices(conf_dir).get(parts[0])
    if choice is not None and len(parts) > 1:
        return conf_dir / parts[0] / f"{choice}.yaml", parts[1:]
    return conf_dir / "config.yaml", parts


def is_interpolation(path: Path, inner: list[str]) -> bool:
    node: Any = load_rt(path)
    for part in inner:
        if not isinstance(node, dict) or part not in node:
            return False
        node = node[part]
    return isinstance(node, str) and "${" in node


def write_value(path: Path, inner: list[str], value: Any) -> None:
    data = load_rt(path)
    node = data
    for part in inner[:-1]:
        if part not in node or not isinstance(node[part], dict):
            node[part] = CommentedMap()
        node = node[part]
    node[inner[-1]] = value
    dump_rt(path, data)


def lookup(tree: Any, key: str) -> Any:
    for part in key.split("."):
        tree = tree.get(part) if isinstance(tree, dict) else None
    return tree


def keep(conf_dir: Path = CONF_DIR, params_file: Path = PARAMS_FILE) -> list[str]:
    """Write params.yaml's values that differ from conf/ into conf/; returns what was written."""
    params = yaml.safe_load(params_file.read_text()) or {}
    written = switch_groups(conf_dir, params)
    for deferred_too in (False, True):  # plain values first: an interpolation may then agree by itself
        for key in differing_keys(params, compose(conf_dir)):
            path, inner = source_file(conf_dir, key)
            if not deferred_too and is_interpolation(path, inner):
                continue
            write_value(path, inner, lookup(params, key))
            written.append(f"{key}={lookup(params, key)!r} -> {path.relative_to(conf_dir.parent)}")
    left = differing_keys(params, compose(conf_dir))
    if left:
        raise ExperimentError(f"conf/ still differs from params.yaml at {', '.join(left)}: edit conf/ by hand")
    text = yaml_text(conf_dir)
    if params_file.read_text() != text:  # same values; now also `make params`'s bytes
        atomic_write_text(params_file, text)
    return written


def yaml_text(conf_dir: Path) -> str:
    from omegaconf import OmegaConf

    return OmegaConf.to_yaml(compose(conf_dir))


def git(root: Path, *args: str) -> str:
    result = subprocess.run(["git", *args], cwd=root, capture_output=True, text=True)
    if result.returncode != 0:
        raise ExperimentError(f"git {' '.join(args)}: {result.stderr.strip()}")
    return result.stdout


def drop(root: Path = REPO_ROOT) -> list[str]:
    """params.yaml, dvc.lock, the tracked outputs and (from DVC's cache) the others, as committed."""
    lock = root / "dvc.lock"
    committed_lock = yaml.safe_load(git(root, "show", "HEAD:dvc.lock")) if git(root, "ls-files", "dvc.lock") else {}
    ours = pipeline_outputs(lock)
    theirs = {out["path"] for stage in (committed_lock.get("stages") or {}).values()
              for out in stage.get("outs") or []}
    gitignores = sorted({str(Path(p).parent / ".gitignore") for p in ours | theirs})
    tracked = git(root, "ls-files", "--", "params.yaml", "dvc.lock", *sorted(ours | theirs), *gitignores).split()
    if tracked:
        git(root, "checkout", "HEAD", "--", *tracked)
    removed = []
    for path in sorted(ours - theirs - {"dvc.lock"}):  # outputs only the experiment had (e.g. another data set)
        target = root / path
        if target.exists() and not git(root, "ls-files", "--", path):
            shutil.rmtree(target) if target.is_dir() else target.unlink()
            removed.append(path)
    stages = sorted(committed_lock.get("stages") or {})  # those that ran for the commit (the others have no outputs)
    result = subprocess.run([sys.executable, "-m", "dvc", "checkout", "--force", *stages], cwd=root,
                            capture_output=True, text=True) if stages else None
    if result is not None and result.returncode != 0:
        lines = (result.stderr + result.stdout).splitlines()
        raise ExperimentError("dvc checkout: " + " ".join(line.strip() for line in lines if line.strip())[:500])
    return tracked + [f"removed {p}" for p in removed]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pipeline.experiment", description=__doc__.splitlines()[0])
    parser.add_argument("action", choices=["keep", "drop"])
    args = parser.parse_args(argv)
    try:
        if args.action == "keep":
            written = keep()
            print("\n".join(written) if written else "nothing to keep: params.yaml is conf/'s composition")
            if written:
                print("kept: commit conf/, params.yaml, dvc.lock and reports/ (dvc repro has only `register` to run)")
        else:
            restored = drop()
            print(f"dropped: {len(restored)} files restored from the last commit, DVC outputs checked out")
    except (ExperimentError, OSError, yaml.YAMLError) as exc:
        print(f"{args.action}-exp: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
