"""Stage `download`: fetch the configured MovieLens archive, verify it, extract to data/raw/<name>.

`MOVIEREC_DATA_MIRROR=<folder>` reads `<folder>/<archive>` instead of the network. A
`synthetic://` url (conf/data/synthetic*.yaml) generates the data set there instead.
"""

from __future__ import annotations

import os
from pathlib import Path

from movierec.config import Config
from movierec.data.release import MIRROR_ENV, DatasetError, download_dataset, generate_dataset, is_synthetic
from pipeline.stage import stage


def run(cfg: Config) -> Path:
    if is_synthetic(cfg.data.url):
        return generate_dataset(cfg.data.name, cfg.data.synthetic, Path(cfg.paths.raw))
    return download_dataset(cfg.data.name, cfg.data.url, cfg.data.sha256, Path(cfg.paths.raw),
                            mirror=os.environ.get(MIRROR_ENV) or None)


main = stage(run, expected=(DatasetError,))

if __name__ == "__main__":
    main()
