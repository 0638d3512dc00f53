"""`make ui`: the MLflow UI of the configured store, from any working directory.

    python -m movierec.registry.ui [--port 5001] [--dry-run]

The store is :func:`~movierec.registry.store.configured_tracking_uri` (``MLFLOW_TRACKING_URI``,
else ``mlflow.tracking_uri`` of ``conf/``). A tracking server (``http(s)://``) already serves its
own UI: this says so and starts nothing (a second UI on the local file would show other runs).
A database store (the default sqlite file, or a PostgreSQL URI) gets ``mlflow ui`` on 127.0.0.1,
one worker, light enough for 2 cores. Port 5001: Flask's development server takes 5000, and
`make tracking-server` listens on 5002.
"""

from __future__ import annotations

import argparse
import os
import sys

DEFAULT_PORT = 5001


def ui_command(uri: str, port: int) -> list[str]:
    """`mlflow ui` over the store `uri`; new experiments' artifacts beside a local sqlite file."""
    from movierec.registry.tracking import artifact_root

    command = [sys.executable, "-m", "mlflow", "ui", "--backend-store-uri", uri, "--host", "127.0.0.1",
               "--port", str(port), "--workers", "1"]
    root = artifact_root(uri)
    if root is not None:
        command += ["--default-artifact-root", str(root)]
    return command


def main(argv: list[str] | None = None) -> int:
    from movierec.registry.store import configured_tracking_uri, display_uri, missing_store

    parser = argparse.ArgumentParser(prog="python -m movierec.registry.ui", description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=DEFAULT_PORT)
    parser.add_argument("--dry-run", action="store_true", help="print the command instead of running it")
    args = parser.parse_args(argv)
    try:
        uri = configured_tracking_uri()
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"store: {display_uri(uri)}", file=sys.stderr)
    if uri.startswith(("http://", "https://")):
        print(f"the configured store is the tracking server {display_uri(uri)}: its UI is there, open it in a "
              "browser (no UI started here)")
        return 0
    missing = missing_store(uri)
    if missing is not None:
        print(f"error: no MLflow store at {missing} yet: run the pipeline first (`make pipeline`)", file=sys.stderr)
        return 1
    command = ui_command(uri, args.port)
    if args.dry_run:
        print(" ".join(command))
        return 0
    os.environ.setdefault("MLFLOW_SERVER_ENABLE_JOB_EXECUTION", "false")  # no job runner on 2 cores
    print(f"MLflow UI on http://127.0.0.1:{args.port}/", file=sys.stderr)
    os.execv(command[0], command)
    return 0  # not reached


if __name__ == "__main__":
    sys.exit(main())
