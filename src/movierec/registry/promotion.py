"""When does a new model version take the `champion` alias? Pure rules, tested on their own.

:func:`decide` is the whole gate the `register` stage applies, in this order:

1. an experiment (``dvc exp run``: workspace, ``--queue`` or ``--temp``) never moves the alias;
2. neither does a run from uncommitted or modified tracked code (or outside a git checkout):
   only ``dvc repro`` on a committed, clean workspace promotes automatically;
3. with no champion yet, the candidate becomes champion;
4. the candidate is compared with the champion only when both were evaluated on the same data
   (fingerprint of the data stages' outputs) and the same split, else it is not promoted;
5. then the metric rule, :func:`decide_promotion`, on rmse and ``ndcg@k`` with the configured k
   (``evaluate.k``): a champion evaluated at another k is not comparable, so not replaced.

Anything not promoted automatically can still be promoted deliberately:
``python -m movierec.registry.champion promote N --reason ...``.
"""

from __future__ import annotations

from dataclasses import dataclass

UNKNOWN = "unknown"
BY_HAND = "promote it deliberately with `python -m movierec.registry.champion promote <version> --reason ...`"


@dataclass(frozen=True)
class Decision:
    promote: bool
    reason: str


@dataclass(frozen=True)
class Evaluated:
    """A version's test metrics and what they were measured on.

    `data_fingerprint`: :func:`movierec.registry.lineage.data_fingerprint` of the data stages'
    outputs; `split`: the split configuration as canonical JSON (:func:`split_key`).
    """

    metrics: dict[str, float]
    data_fingerprint: str = UNKNOWN
    split: str = UNKNOWN
    version: str | None = None


@dataclass(frozen=True)
class Context:
    """Where the registration runs: a DVC experiment (its name) or not; the code's git state.

    The pipeline checks everything. `check_git=False`/`check_data=False` are for direct library
    calls (tests, notebooks) that vouch for the code and the test set themselves; an experiment
    never promotes either way.
    """

    experiment: str | None = None
    git_commit: str = UNKNOWN
    git_dirty: str = UNKNOWN   # "true" | "false" | "unknown", as lineage.git_state writes it
    check_git: bool = True
    check_data: bool = True

    @property
    def clean_and_committed(self) -> bool:
        return self.git_commit not in ("", UNKNOWN) and self.git_dirty == "false"


def split_key(split: dict | None) -> str:
    """The split configuration as one comparable string (canonical JSON), "unknown" when absent."""
    import json

    return json.dumps(split, sort_keys=True, separators=(",", ":")) if split else UNKNOWN


def comparable(candidate: Evaluated, champion: Evaluated) -> str | None:
    """None when the two were evaluated on the same data and split, else why not (one line)."""
    label = f"champion (version {champion.version})" if champion.version else "champion"
    if UNKNOWN in (candidate.data_fingerprint, champion.data_fingerprint) or not candidate.data_fingerprint \
            or not champion.data_fingerprint:
        who = "candidate" if candidate.data_fingerprint in (UNKNOWN, "") else label
        return f"the {who} has no recorded data fingerprint, so the two test sets cannot be shown to match"
    if UNKNOWN in (candidate.split, champion.split) or not candidate.split or not champion.split:
        who = "candidate" if candidate.split in (UNKNOWN, "") else label
        return f"the {who} has no recorded split, so the two test sets cannot be shown to match"
    if candidate.data_fingerprint != champion.data_fingerprint:
        return (f"evaluated on different data: data fingerprint {candidate.data_fingerprint}, "
                f"{label} {champion.data_fingerprint}")
    if candidate.split != champion.split:
        return f"evaluated on a different split: {candidate.split}, {label} {champion.split}"
    return None


def decide(candidate: Evaluated, champion: Evaluated | None, context: Context, rmse_tolerance: float,
           ndcg_tolerance: float, ndcg_key: str = "ndcg@10") -> Decision:
    """The whole automatic gate (see the module docstring). Never raises on missing information:
    whatever cannot be shown comparable is simply not promoted, with the reason."""
    how = BY_HAND
    if context.experiment:
        return Decision(False, f"registered by experiment {context.experiment}: experiments never move "
                               f"the alias; {how}")
    if context.check_git and not context.clean_and_committed:
        if context.git_commit in ("", UNKNOWN):
            state = "not run from a git checkout (no commit to trace it to)"
        elif context.git_dirty == "true":
            state = f"tracked files differ from commit {context.git_commit[:12]} (uncommitted changes)"
        else:
            state = f"the git state of commit {context.git_commit[:12]} is unknown"
        return Decision(False, f"{state}: only `dvc repro` on a committed, clean workspace promotes "
                               f"automatically; commit and rerun, or {how}")
    if champion is None:
        return Decision(True, "no current champion")
    if champion.version is not None and candidate.version == champion.version:
        return Decision(False, f"version {champion.version} already holds the alias")
    why_not = comparable(candidate, champion) if context.check_data else None
    if why_not is not None:
        return Decision(False, f"not compared with the champion: {why_not}; {how}")
    return decide_promotion(candidate.metrics, champion.metrics, rmse_tolerance, ndcg_tolerance, ndcg_key)


def decide_promotion(new: dict[str, float], champion: dict[str, float] | None, rmse_tolerance: float,
                     ndcg_tolerance: float, ndcg_key: str = "ndcg@10") -> Decision:
    """The metric rule: promote unless the new test metrics are worse than the champion's beyond a tolerance.

    `new`/`champion` are the embedding method's test metrics (rmse and ndcg@k), measured on the
    same test set (:func:`decide` checks that first). `ndcg_key` is ``ndcg@<evaluate.k>``.

    A champion with no recorded metrics at all (registered before versions were tagged with them)
    is replaced; one whose metrics lack rmse or `ndcg_key` (e.g. evaluated at another k) is not
    comparable, so the candidate is not promoted automatically.
    """
    if champion is None:
        return Decision(True, "no current champion")
    missing_new = [key for key in ("rmse", ndcg_key) if key not in new]
    if missing_new:
        return Decision(False, f"candidate has no {missing_new} to compare with")
    if not champion:
        return Decision(True, "the current champion has no recorded test metrics (registered before "
                              "versions were tagged with them)")
    missing = [key for key in ("rmse", ndcg_key) if key not in champion]
    if missing:
        other_k = sorted(key for key in champion if key.startswith("ndcg@") and "_" not in key)
        why = f"evaluated at another k: it has {', '.join(other_k)}" if other_k and ndcg_key in missing else \
            "its recorded metrics cannot be compared"
        return Decision(False, f"not comparable: the champion has no {missing} ({why}); {BY_HAND}")
    problems = []
    if new["rmse"] > champion["rmse"] + rmse_tolerance:
        problems.append(f"rmse {new['rmse']:.4f} > champion {champion['rmse']:.4f} + {rmse_tolerance}")
    if new[ndcg_key] < champion[ndcg_key] - ndcg_tolerance:
        problems.append(f"{ndcg_key} {new[ndcg_key]:.4f} < champion {champion[ndcg_key]:.4f} - {ndcg_tolerance}")
    if problems:
        return Decision(False, "worse than the champion: " + "; ".join(problems))
    return Decision(True, f"rmse {new['rmse']:.4f} (champion {champion['rmse']:.4f}), "
                          f"{ndcg_key} {new[ndcg_key]:.4f} (champion {champion[ndcg_key]:.4f}) within tolerance")
