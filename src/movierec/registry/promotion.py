"""When does a new model version take the `champion` alias? A pure rule, tested on its own."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Decision:
    promote: bool
    reason: str


def decide_promotion(new: dict[str, float], champion: dict[str, float] | None, rmse_tolerance: float,
                     ndcg_tolerance: float, ndcg_key: str = "ndcg@10") -> Decision:
    """Promote unless the new test metrics are worse than the champion's beyond a tolerance.

    `new`/`champion` are the embedding method's test metrics (rmse and ndcg@k).
    """
    if champion is None:
        return Decision(True, "no current champion")
    missing = [key for key in ("rmse", ndcg_key) if key not in champion]
    if missing:
        return Decision(True, f"current champion has no {missing} to compare with")
    problems = []
    if new["rmse"] > champion["rmse"] + rmse_tolerance:
        problems.append(f"rmse {new['rmse']:.4f} > champion {champion['rmse']:.4f} + {rmse_tolerance}")
    if new[ndcg_key] < champion[ndcg_key] - ndcg_tolerance:
        problems.append(f"{ndcg_key} {new[ndcg_key]:.4f} < champion {champion[ndcg_key]:.4f} - {ndcg_tolerance}")
    if problems:
        return Decision(False, "worse than the champion: " + "; ".join(problems))
    return Decision(True, f"rmse {new['rmse']:.4f} (champion {champion['rmse']:.4f}), "
                          f"{ndcg_key} {new[ndcg_key]:.4f} (champion {champion[ndcg_key]:.4f}) within tolerance")
