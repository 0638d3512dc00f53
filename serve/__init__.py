"""movierec's HTTP service: `create_app()` for `flask --app serve run --debug`, `python -m serve` for gunicorn.

Importing this package loads neither torch nor MLflow: the model is loaded in `create_app`,
which gunicorn calls in each worker after forking.
"""

from serve.app import create_app

__all__ = ["create_app"]
