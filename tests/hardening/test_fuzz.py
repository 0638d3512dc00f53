"""schemathesis against the service's own /openapi.json: no 5xx, every response as the spec says.

Bounded here (a few dozen cases per operation and mode, plus edge cases); the long run is
`python benchmarks/fuzz.py --examples 500` (docs/reliability.md).
"""

from __future__ import annotations

EXAMPLES = 15


def test_fuzz_every_operation_no_5xx_and_conforming(app, fuzz_module):
    report = fuzz_module.fuzz(app=app, examples=EXAMPLES, max_content_length=app.config["MAX_CONTENT_LENGTH"])
    labels = {op.label for op in report.operations}
    assert {"GET /recommend", "POST /recommend", "GET /recommend-simple", "POST /recommend-simple",
            "POST /predict", "GET /movies", "GET /users/{user_id}/top-rated", "GET /health"} <= labels
    assert report.n_5xx == 0, report.failures[:5]
    assert report.failures == []
    assert report.cases >= 500
    by_label = {op.label: op for op in report.operations}
    assert by_label["GET /recommend"].statuses["200"] > 0      # the known-user pass reaches the ranking code
    assert by_label["POST /recommend"].statuses["400"] > 0     # negative cases are refused
    assert by_label["edge cases"].statuses["413"] > 0          # oversized bodies


def test_fuzzer_catches_a_server_error(app, fuzz_module, monkeypatch):
    """The harness itself: a handler that fails is reported, not hidden."""
    store = app.extensions["movierec.store"]
    monkeypatch.setattr(store.current.catalogue, "search", lambda *a: 1 / 0)
    schema = fuzz_module.load_schema(app)
    reports = fuzz_module.fuzz_generated(schema.include(path="/movies"), examples=5, known_user=None)
    movies = reports["GET /movies"]
    assert movies.statuses["500"] > 0 and any("500" in f or "Server error" in f for f in movies.failures)
