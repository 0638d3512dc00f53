"""MLflow pyfunc "model from code": the registered model wraps a :class:`ModelBundle`.

`mlflow.pyfunc.load_model("models:/movierec@champion")` gives a generic predictor
(DataFrame of user_id, movie_id -> predicted rating; the signature's params schema takes
``method``: "embedding", the default, or any other method of the bundle); `.unwrap_python_model().bundle`
gives the service the full bundle (every method, ids, movie table). `mlflow models serve` answers
`/invocations` with the same predictor.
"""

from __future__ import annotations

import mlflow
import numpy as np
import pandas as pd
from mlflow.pyfunc import PythonModel

from movierec.config import RATING_MAX, RATING_MIN
from movierec.serving.model_bundle import ModelBundle


class MovieRecModel(PythonModel):
    bundle: ModelBundle

    def load_context(self, context) -> None:
        self.bundle = ModelBundle.load(context.artifacts["bundle"])

    def predict(self, context, model_input: pd.DataFrame, params: dict | None = None) -> pd.DataFrame:
        """Predicted ratings for rows of (user_id, movie_id); `params={"method": "user_user"}` to switch.

        Unknown users or movies get NaN.
        """
        method = (params or {}).get("method", "embedding")
        self.bundle.method(method)  # an unknown method fails here, naming the known ones
        out = np.full(len(model_input), np.nan)
        frame = model_input.reset_index(drop=True)
        for user_id, rows in frame.groupby("user_id").groups.items():
            try:
                profile = self.bundle.profile_for_user(int(user_id))
            except KeyError:
                continue
            movie_ids = frame.loc[rows, "movie_id"].to_numpy(np.int64)
            idx = self.bundle.vocab.movies.lookup(movie_ids)
            known = idx >= 0
            predicted = np.full(len(rows), np.nan)
            predicted[known] = np.clip(self.bundle.method(method).predict(profile, idx[known]), RATING_MIN, RATING_MAX)
            out[np.asarray(list(rows))] = predicted
        return pd.DataFrame({"predicted_rating": out})


mlflow.models.set_model(MovieRecModel())
