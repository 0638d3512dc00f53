"""Per-epoch loss curves as a CSV (a DVC plot) and a PNG (DVC's HTML needs the internet)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from movierec.atomic import atomic_path

COLUMNS = ["epoch", "train_loss", "val_loss", "test_loss"]


def write_loss_csv(path: Path, history: list[dict[str, float]]) -> None:
    frame = pd.DataFrame(history).reindex(columns=COLUMNS)
    with atomic_path(path) as tmp:
        frame.to_csv(tmp, index=False, float_format="%.6f")


def write_loss_png(path: Path, history: list[dict[str, float]], title: str = "Embedding model: MSE per epoch") -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    frame = pd.DataFrame(history)
    fig, ax = plt.subplots(figsize=(6.4, 4.0), dpi=100)
    for column, style in (("train_loss", "-"), ("val_loss", "--"), ("test_loss", "-.")):
        if column in frame and frame[column].notna().any():
            ax.plot(frame["epoch"], frame[column], style, marker=".", label=column.replace("_", " "))
    ax.set_xlabel("epoch")
    ax.set_ylabel("MSE")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png")
    plt.close(fig)
