"""`trainer=ddp`: Lightning DDP with 2 CPU processes (gloo) on a small synthetic set.

Lightning launches rank 1 by re-running the script, so the run happens in a subprocess driver.
Checks: both ranks train on their own shard, the per-epoch hook (MLflow's) runs once per epoch
(rank 0 only), every rank ends with the same weights, and the model learned something.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest

from movierec.config import compose, validate
from tests.conftest import REPO_ROOT

pytestmark = pytest.mark.slow

DRIVER = textwrap.dedent('''
    import json, os, sys
    import numpy as np, pandas as pd, torch
    from movierec.config import ModelConfig, TrainerConfig
    from movierec.data.synthetic import generate
    from movierec.models.embedding.fit import train_embedding

    out = sys.argv[1]
    ratings, _ = generate(n_users=300, n_movies=200, n_ratings=15_000, seed=3)
    frame = pd.DataFrame({"user_idx": ratings["userId"] - 1, "movie_idx": ratings["movieId"] - 1,
                          "rating": ratings["rating"]})
    rank = int(os.environ.get("LOCAL_RANK", 0))
    epochs = []
    model = ModelConfig(embedding_dim=8, batch_size=512, implicit_users=16, learning_rate=0.01, l2=0.01,
                        epochs=0, average_from=0, implicit_l2=0.0)  # DDP: the lone-head trainer
    trainer = TrainerConfig(accelerator="cpu", devices=2, strategy="ddp", max_epochs=3, patience=5, refit=True)
    result = train_embedding(frame, None, 300, 200, model, trainer, seed=0,
                             on_epoch=lambda epoch, row: epochs.append((rank, epoch)))
    state = result.model.net.state_dict()
    np.save(f"{out}/user_rank{rank}.npy", state["user.weight"].numpy())
    json.dump(epochs, open(f"{out}/hook_rank{rank}.json", "w"))
    if rank == 0:
        json.dump({"hook": epochs, "history": result.history, "best_epoch": result.best_epoch},
                  open(f"{out}/rank0.json", "w"))
''')


def test_trainer_ddp_config_composes():
    cfg = validate(compose(REPO_ROOT / "conf", ["trainer=ddp", "trainer.accelerator=cpu", "trainer.devices=2"]))
    assert cfg.trainer.strategy == "ddp" and cfg.trainer.devices == 2 and cfg.trainer.num_nodes == 1


def test_ddp_two_cpu_processes(tmp_path):
    import numpy as np

    driver = tmp_path / "ddp_driver.py"
    driver.write_text(DRIVER)
    proc = subprocess.run([sys.executable, str(driver), str(tmp_path)], cwd=REPO_ROOT, capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-4000:]
    report = json.loads((tmp_path / "rank0.json").read_text())
    history = report["history"]
    assert len(history) == 3
    assert [epoch for _, epoch in report["hook"]] == [0, 1, 2]       # once per epoch, from rank 0
    assert json.loads((tmp_path / "hook_rank1.json").read_text()) == []  # never from rank 1
    assert history[-1]["val_loss"] < history[0]["val_loss"]        # it learns
    np.testing.assert_array_equal(np.load(tmp_path / "user_rank0.npy"), np.load(tmp_path / "user_rank1.npy"))
