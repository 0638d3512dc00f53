"""The promotion gate (issue 16): experiments never promote, like is compared with like,
registration is idempotent, the store is found from DVC_ROOT, deliberate promotion, clear refusals."""

from __future__ import annotations

import json
import os
import subprocess

import mlflow
import pytest
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from movierec.registry.alias import current_version, history, move_alias
from movierec.registry.champion import main, promote
from movierec.registry.lineage import changed_paths, git_state, is_ignored, pipeline_outputs
from movierec.registry.promotion import Context, Evaluated, decide, split_key
from movierec.registry.register import bundle_sha256, register_bundle
from movierec.registry.tracking import resolve_tracking_uri, use_store
from movierec.registry.version_tags import BUNDLE_HASH_TAG, CATALOGUE_TAG, SPLIT_TAG

CLEAN = Context(git_commit="a" * 40, git_dirty="false")
SPLIT = split_key({"split.strategy": "random", "split.test_fraction": 0.2, "seed": 42})
OTHER_SPLIT = split_key({"split.strategy": "predefined", "seed": 42})
GOOD = {"rmse": 0.83, "ndcg@10": 0.2645}
BETTER = {"rmse": 0.80, "ndcg@10": 0.30}
CLOSE = {"rmse": 0.8284, "ndcg@10": 0.2634}   # the example: within tolerance


def champ(metrics=GOOD, fingerprint="fp1", split=SPLIT, version="3"):
    return Evaluated(metrics, fingerprint, split, version)


def cand(metrics=BETTER, fingerprint="fp1", split=SPLIT, version="4"):
    return Evaluated(metrics, fingerprint, split, version)


# -- the pure decision ------------------------------------------------------------------------

def test_an_experiment_never_promotes_even_when_better():
    for ctx in (Context(experiment="rank-09", git_commit="a" * 40, git_dirty="false"),
                Context(experiment="rank-09", check_git=False, check_data=False)):
        decision = decide(cand(CLOSE), champ(), ctx, 0.005, 0.01)
        assert not decision.promote
        assert "experiment rank-09" in decision.reason and "champion promote" in decision.reason
    assert not decide(cand(BETTER), None, Context(experiment="x"), 0.005, 0.01).promote  # not even the first


def test_only_a_committed_clean_workspace_promotes_automatically():
    dirty = decide(cand(), champ(), Context(git_commit="b" * 40, git_dirty="true"), 0.005, 0.01)
    assert not dirty.promote and "uncommitted" in dirty.reason
    nogit = decide(cand(), None, Context(), 0.005, 0.01)
    assert not nogit.promote and "git checkout" in nogit.reason
    unknown = decide(cand(), champ(), Context(git_commit="c" * 40, git_dirty="unknown"), 0.005, 0.01)
    assert not unknown.promote
    assert decide(cand(), champ(), CLEAN, 0.005, 0.01).promote
    assert decide(cand(), None, CLEAN, 0.005, 0.01).reason == "no current champion"


def test_like_is_compared_with_like():
    other_data = decide(cand(BETTER, fingerprint="fp2"), champ(), CLEAN, 0.005, 0.01)
    assert not other_data.promote and "different data" in other_data.reason and "fp2" in other_data.reason
    other_split = decide(cand(BETTER, split=OTHER_SPLIT), champ(), CLEAN, 0.005, 0.01)
    assert not other_split.promote and "different split" in other_split.reason
    for candidate, champion in ((cand(fingerprint="unknown"), champ()), (cand(), champ(fingerprint="unknown")),
                                (cand(split="unknown"), champ()), (cand(), champ(split="unknown"))):
        decision = decide(candidate, champion, CLEAN, 0.005, 0.01)
        assert not decision.promote and "cannot be shown to match" in decision.reason
    # the same data and split: the metric rule decides
    assert decide(cand(CLOSE), champ(), CLEAN, 0.005, 0.01).promote
    worse = decide(cand({"rmse": 0.90, "ndcg@10": 0.26}), champ(), CLEAN, 0.005, 0.01)
    assert not worse.promote and "worse than the champion" in worse.reason


def test_the_version_already_holding_the_alias_is_not_moved_again():
    assert not decide(cand(version="3"), champ(version="3"), CLEAN, 0.005, 0.01).promote


def test_library_calls_may_skip_the_git_and_data_checks():
    ctx = Context(check_git=False, check_data=False)
    assert decide(cand(fingerprint="unknown"), champ(), ctx, 0.005, 0.01).promote
    assert not decide(cand({"rmse": 0.9, "ndcg@10": 0.2}), champ(), ctx, 0.005, 0.01).promote


def test_split_key_is_canonical():
    assert split_key({"b": 1, "a": 2}) == split_key({"a": 2, "b": 1})
    assert split_key(None) == "unknown"


# -- lineage: git_dirty -----------------------------------------------------------------------

def _git(root, *args):
    subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@t", *args], cwd=root, check=True,
                   capture_output=True)


def test_git_dirty_ignores_pipeline_outputs_including_folders_but_not_code(tmp_path):
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "code.py").write_text("x = 1\n")
    (tmp_path / "reports" / "figures").mkdir(parents=True)
    (tmp_path / "reports" / "figures" / "a.png").write_bytes(b"1")
    (tmp_path / "reports" / "figures-old.txt").write_text("not an output")
    (tmp_path / "dvc.lock").write_text(
        "schema: '2.0'\nstages:\n  evaluate:\n    outs:\n    - path: reports/figures\n      md5: x.dir\n"
        "    - path: reports/metrics.json\n      md5: y\n")
    (tmp_path / "reports" / "metrics.json").write_text("{}")
    # a file a stage writes without declaring it (a foreach stage's extra file) listed as a top-level plot
    (tmp_path / "reports" / "loss.csv").write_text("epoch\n")
    (tmp_path / "dvc.yaml").write_text("stages: {}\nplots:\n  - reports/loss.csv\n  - reports/x.csv:\n      x: a\n")
    _git(tmp_path, "init", "-q")
    _git(tmp_path, "add", ".")
    _git(tmp_path, "commit", "-qm", "x")
    ignore = pipeline_outputs(tmp_path / "dvc.lock")
    assert ignore == {"reports/figures", "reports/metrics.json", "reports/loss.csv", "reports/x.csv", "dvc.lock"}
    (tmp_path / "reports" / "loss.csv").write_text("epoch\n1\n")
    assert git_state(tmp_path, ignore)["git_dirty"] == "false"
    _git(tmp_path, "checkout", "--", "reports/loss.csv")
    # what `dvc repro` rewrites on a fresh clone: outputs (a folder's files too) and dvc.lock
    (tmp_path / "reports" / "figures" / "a.png").write_bytes(b"2")
    (tmp_path / "reports" / "metrics.json").write_text('{"a": 1}')
    (tmp_path / "dvc.lock").write_text((tmp_path / "dvc.lock").read_text() + "\n")
    assert git_state(tmp_path, ignore)["git_dirty"] == "false"
    assert git_state(tmp_path)["git_dirty"] == "true"
    # a tracked file next to the folder with a common prefix is not an output
    (tmp_path / "reports" / "figures-old.txt").write_text("edited")
    assert git_state(tmp_path, ignore)["git_dirty"] == "true"
    _git(tmp_path, "checkout", "--", "reports/figures-old.txt")
    # tracked code edited (also when only staged) is dirty
    (tmp_path / "src" / "code.py").write_text("x = 2\n")
    assert git_state(tmp_path, ignore)["git_dirty"] == "true"
    _git(tmp_path, "add", "src/code.py")
    assert git_state(tmp_path, ignore)["git_dirty"] == "true"


def test_porcelain_parsing_handles_renames_and_odd_names():
    out = "R  new name.py\0old.py\0 M reports/figures/a b.png\0"
    assert changed_paths(out) == {"new name.py", "old.py", "reports/figures/a b.png"}
    assert is_ignored("reports/figures/x.png", {"reports/figures"})
    assert not is_ignored("reports/figuresx.png", {"reports/figures"})


# -- the store from DVC_ROOT, runs tagged with the experiment ----------------------------------

def test_tracking_store_is_found_from_dvc_root(monkeypatch, tmp_path):
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    temp_copy = tmp_path / ".dvc" / "tmp" / "exps" / "tmp123"
    monkeypatch.delenv("DVC_ROOT", raising=False)
    assert resolve_tracking_uri(None, temp_copy) == f"sqlite:///{temp_copy.resolve() / 'mlflow.db'}"
    monkeypatch.setenv("DVC_ROOT", str(tmp_path))
    assert resolve_tracking_uri(None, temp_copy) == f"sqlite:///{tmp_path.resolve() / 'mlflow.db'}"
    assert resolve_tracking_uri("sqlite:///stores/x.db", temp_copy) == f"sqlite:///{tmp_path.resolve()}/stores/x.db"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "sqlite:////elsewhere.db")
    assert resolve_tracking_uri(None, temp_copy) == "sqlite:////elsewhere.db"


# -- registration on a temporary store ----------------------------------------------------------

@pytest.fixture(scope="module")
def store(tmp_path_factory):
    from tests.synthetic import small_bundle

    folder = tmp_path_factory.mktemp("gate")
    uri = f"sqlite:///{folder / 'mlflow.db'}"
    use_store(uri, "movierec")
    bundle_dir = folder / "bundle"
    small_bundle().save(bundle_dir)
    yield uri, folder, bundle_dir
    mlflow.set_tracking_uri("")


@pytest.fixture
def name(store, request):
    return f"gate-{request.node.name}"[:60]


def _run():
    with mlflow.start_run() as run:
        pass
    return run.info.run_id


def _register(bundle_dir, name, metrics=GOOD, run_id=None, context=CLEAN, fingerprint="fp1", split=SPLIT, **tags):
    return register_bundle(bundle_dir, run_id or _run(), name, "champion", metrics, 0.005, 0.01,
                           tags={"data_fingerprint": fingerprint, "dataset": "synthetic", **tags},
                           context=context, split=split)


def _versions(name):
    return sorted(int(mv.version) for mv in MlflowClient().search_model_versions(f"name = '{name}'"))


def test_the_same_bundle_from_the_same_run_is_one_version(store, name):
    _, _, bundle_dir = store
    run_id = _run()
    first = _register(bundle_dir, name, run_id=run_id)
    again = _register(bundle_dir, name, run_id=run_id)
    assert first.new_version and first.promoted
    assert (again.version, again.new_version, again.promoted) == (first.version, False, True)
    assert "already registered" in again.reason
    assert _versions(name) == [1]
    tags = MlflowClient().get_model_version(name, first.version).tags
    assert tags[BUNDLE_HASH_TAG] == bundle_sha256(bundle_dir) and tags[SPLIT_TAG] == SPLIT
    assert len(tags[CATALOGUE_TAG]) == 16
    assert len(history(MlflowClient(), name, "champion")) == 1   # the alias was not moved twice
    # another run is another version (a fresh training run, even with identical weights)
    assert _register(bundle_dir, name).version == "2"


def test_a_dvc_experiment_registers_and_tags_but_never_moves_the_alias(store, name, monkeypatch):
    _, _, bundle_dir = store
    champion = _register(bundle_dir, name)
    monkeypatch.setenv("DVC_EXP_NAME", "rank-09")
    monkeypatch.setenv("DVC_EXP_BASELINE_REV", "f" * 40)
    monkeypatch.delenv("MLFLOW_RUN_CONTEXT", raising=False)   # restored to absent afterwards
    use_store(mlflow.get_tracking_uri(), "movierec")   # as a stage does: new runs get the experiment tag
    run_id = _run()
    try:
        assert MlflowClient().get_run(run_id).data.tags["dvc_exp_name"] == "rank-09"
        exp = _register(bundle_dir, name, metrics=BETTER, run_id=run_id,
                        context=Context(experiment="rank-09", git_commit="a" * 40, git_dirty="false"))
        lib = _register(bundle_dir, name, metrics=BETTER, context=None)  # a library call inside an experiment
    finally:
        os.environ.pop("MLFLOW_RUN_CONTEXT", None)
    client = MlflowClient()
    assert not exp.promoted and not lib.promoted and "experiment rank-09" in exp.reason
    assert current_version(client, name, "champion") == champion.version
    tags = client.get_model_version(name, exp.version).tags
    assert tags["dvc_exp_name"] == "rank-09" and tags["dvc_exp_baseline_rev"] == "f" * 40
    assert tags["promotion"] == exp.reason


def test_another_split_or_data_set_is_registered_but_not_promoted(store, name):
    _, _, bundle_dir = store
    champion = _register(bundle_dir, name)
    other_split = _register(bundle_dir, name, metrics=BETTER, split=OTHER_SPLIT)
    other_data = _register(bundle_dir, name, metrics=BETTER, fingerprint="fp2")
    assert not other_split.promoted and "different split" in other_split.reason
    assert not other_data.promoted and "different data" in other_data.reason
    dirty = _register(bundle_dir, name, metrics=BETTER, context=Context(git_commit="a" * 40, git_dirty="true"))
    assert not dirty.promoted
    assert current_version(MlflowClient(), name, "champion") == champion.version
    same = _register(bundle_dir, name, metrics=CLOSE)
    assert same.promoted and current_version(MlflowClient(), name, "champion") == same.version


def test_promote_moves_the_alias_deliberately_and_is_audited(store, name, monkeypatch, capsys):
    uri, _, bundle_dir = store
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    _register(bundle_dir, name)
    monkeypatch.setenv("DVC_EXP_NAME", "rank-09")
    exp = _register(bundle_dir, name, metrics=BETTER, context=None)
    monkeypatch.delenv("DVC_EXP_NAME")
    assert not exp.promoted
    assert main(["--name", name, "promote", "--experiment", "rank-09", "--reason", "reviewed"]) == 0
    moved = json.loads(capsys.readouterr().out)
    assert moved["to_version"] == exp.version and moved["why"] == "promoted: reviewed"
    assert current_version(MlflowClient(), name, "champion") == exp.version
    assert main(["--name", name, "promote", "1", "--reason", "back"]) == 0
    assert [m.to_version for m in history(MlflowClient(), name, "champion")] == ["1", exp.version, "1"]


def test_bad_input_fails_clearly_and_changes_nothing(store, name, monkeypatch, capsys):
    uri, _, bundle_dir = store
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    first = _register(bundle_dir, name)
    other = _register(bundle_dir, name, metrics=BETTER, fingerprint="fp2")
    client = MlflowClient()
    client.set_model_version_tag(name, other.version, CATALOGUE_TAG, "0" * 16)   # other movie ids
    capsys.readouterr()

    def refused(*argv, match):
        assert main(["--name", name, *argv]) == 2
        assert match in capsys.readouterr().err
        assert current_version(client, name, "champion") == first.version

    refused("promote", "99", "--reason", "x", match="has no version 99 (known versions: 1, 2)")
    refused("promote", "abc", "--reason", "x", match="must be a number")
    refused("promote", "--experiment", "no-such-exp", "--reason", "x", match="no-such-exp")
    refused("promote", other.version, "--reason", "x", match="other movie ids")
    refused("promote", first.version, "--reason", "x", match="already version")
    refused("promote", other.version, "--reason", " ", match="reason")
    refused("rollback", "--to", "77", "--reason", "x", match="has no version 77")
    refused("rollback", "--to", other.version, "--reason", "x", match="other movie ids")
    with pytest.raises(SystemExit):
        main(["--name", name, "promote", "--reason", "x"])   # neither a version nor an experiment
    assert _versions(name) == [1, 2]                       # nothing lost, nothing added
    move = promote(client, name, "champion", other.version, "switching data sets", allow_other_data=True)
    assert move.to_version == other.version
    with pytest.raises(FileNotFoundError):
        _register(bundle_dir.parent / "missing-bundle", name)
    with pytest.raises(Exception, match="(?i)run"):
        _register(bundle_dir, name, run_id="0" * 32)
    assert _versions(name) == [1, 2]


def test_move_alias_still_refuses_an_unknown_version(store, name):
    _, _, bundle_dir = store
    _register(bundle_dir, name)
    with pytest.raises(MlflowException):
        move_alias(MlflowClient(), name, "champion", "5", "nope")


def test_a_restored_registry_record_is_checked_against_the_store(store, name, monkeypatch, tmp_path, capsys):
    from dataclasses import asdict

    uri, _, bundle_dir = store
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    registration = _register(bundle_dir, name)
    record = {"model_name": name, "alias": "champion", **asdict(registration)}
    path = tmp_path / "registry.json"
    path.write_text(json.dumps(record))
    assert main(["verify", str(path)]) == 0
    for wrong, match in (({"version": "42"}, "does not exist"), ({"bundle_sha256": "e" * 64}, "holds bundle"),
                         ({"run_id": "f" * 32}, "comes from run"), ({"model_name": "nobody"}, "does not exist")):
        path.write_text(json.dumps({**record, **wrong}))
        assert main(["verify", str(path)]) == 1
        assert match in capsys.readouterr().err
    assert main(["verify", str(tmp_path / "missing.json")]) == 2
