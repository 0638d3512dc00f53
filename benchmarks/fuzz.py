"""Fuzz every operation of the service's own `/openapi.json` with schemathesis; count cases and failures.

For each operation: `--examples` generated cases in each generation mode (positive: valid by the
schema; negative: wrong types, out-of-range and huge numbers, missing or unknown fields, unicode),
plus hand-written edge cases (empty, oversized, invalid-UTF-8, deeply nested and NaN bodies; huge,
negative and unicode query values). Every response must be a non-5xx whose status code is listed
for the operation and whose body matches the declared schema (checks: not_a_server_error,
status_code_conformance, content_type_conformance, response_schema_conformance; negative cases
also negative_data_rejection).

    python benchmarks/fuzz.py --examples 500                 # in-process (WSGI), the small test model
    python benchmarks/fuzz.py --examples 500 --model champion  # the registered movierec@champion
    python benchmarks/fuzz.py --examples 100 --http          # over loopback against `python -m serve`

Writes `benchmarks/results/fuzz.json` (cases, status codes and failures per operation).
The test suite runs the same code with a small count (tests/hardening/test_fuzz.py).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
RESULTS = REPO_ROOT / "benchmarks" / "results" / "fuzz.json"
for extra in (REPO_ROOT, REPO_ROOT / "tests" / "serve"):
    if str(extra) not in sys.path:
        sys.path.insert(0, str(extra))


@dataclass
class OperationReport:
    label: str
    cases: int = 0
    statuses: Counter = field(default_factory=Counter)
    failures: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {"label": self.label, "cases": self.cases, "statuses": dict(sorted(self.statuses.items())),
                "n_5xx": sum(n for code, n in self.statuses.items() if int(code) >= 500),
                "failures": self.failures[:20], "n_failures": len(self.failures)}


@dataclass
class FuzzReport:
    operations: list[OperationReport]
    seconds: float

    @property
    def cases(self) -> int:
        return sum(op.cases for op in self.operations)

    @property
    def n_5xx(self) -> int:
        return sum(op.to_dict()["n_5xx"] for op in self.operations)

    @property
    def failures(self) -> list[str]:
        return [f"{op.label}: {f}" for op in self.operations for f in op.failures]

    def to_dict(self) -> dict:
        return {"cases": self.cases, "n_5xx": self.n_5xx, "n_failures": len(self.failures),
                "seconds": round(self.seconds, 1), "operations": [op.to_dict() for op in self.operations]}


def _checks(negative: bool) -> list:
    from schemathesis.checks import not_a_server_error
    from schemathesis.specs.openapi.checks import (
        content_type_conformance,
        negative_data_rejection,
        response_schema_conformance,
        status_code_conformance,
    )

    checks = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
    return checks + [negative_data_rejection] if negative else checks


def _short(exc: BaseException) -> str:
    return " ".join(f"{type(exc).__name__}: {exc}".split())[:600]


def load_schema(app=None, base_url: str | None = None):
    """The service's own `/openapi.json`: from the Flask `app` in process, or over HTTP from `base_url`."""
    import schemathesis

    if app is not None:
        return schemathesis.openapi.from_wsgi("/openapi.json", app)
    return schemathesis.openapi.from_url(f"{base_url}/openapi.json")


def fuzz_generated(schema, examples: int, seed: int = 0, modes: tuple[str, ...] = ("positive", "negative"),
                   base_url: str | None = None, known_user: int | None = 1) -> dict[str, OperationReport]:
    """`examples` hypothesis cases per operation and mode; failures are collected, not raised.

    With `known_user`, operations taking a `user_id` parameter also get `examples` positive cases
    for that user (random ids are almost all unknown: 404 before any ranking or filter code runs).
    """
    from schemathesis import GenerationMode

    reports: dict[str, OperationReport] = {}
    for result in schema.get_all_operations():
        operation = result.ok()
        report = reports.setdefault(operation.label, OperationReport(operation.label))
        for mode in modes:
            _run_mode(operation, GenerationMode(mode), report, examples, seed, base_url)
        where = {p["in"] for p in operation.definition.raw.get("parameters", []) if p["name"] == "user_id"}
        if known_user is not None and where:
            fixed = {"path_parameters" if "path" in where else "query": {"user_id": known_user}}
            _run_mode(operation, GenerationMode.POSITIVE, report, examples, seed, base_url, fixed)
    return reports


def _run_mode(operation, generation_mode, report: OperationReport, examples: int, seed: int,
              base_url: str | None, fixed: dict | None = None) -> None:
    from hypothesis import HealthCheck, Phase, given, settings
    from hypothesis import seed as hypothesis_seed
    from hypothesis.errors import Unsatisfiable
    from schemathesis import GenerationMode

    mode = generation_mode.value
    checks = _checks(generation_mode is GenerationMode.NEGATIVE)
    # `genres=` is how an *empty* array is written (style form, explode false): valid, and the service
    # reads it as "no filter". A negative case [""] is sent the same way, so its acceptance is no bug.
    arrays = [p["name"] for p in operation.definition.raw.get("parameters", [])
              if p["in"] == "query" and p.get("schema", {}).get("type") == "array"]
    empty_array_checks = _checks(False)

    @hypothesis_seed(seed)
    @settings(max_examples=examples, deadline=None, database=None, phases=[Phase.explicit, Phase.generate],
              suppress_health_check=list(HealthCheck), report_multiple_bugs=False)
    @given(case=operation.as_strategy(generation_mode=generation_mode, **(fixed or {})))
    def run(case):
        report.cases += 1
        try:
            response = case.call(base_url=base_url) if base_url else case.call()
        except Exception as exc:  # noqa: BLE001 - a transport error is a failure too
            report.statuses["transport-error"] += 1
            report.failures.append(f"{mode}: {_short(exc)}")
            return
        report.statuses[str(response.status_code)] += 1
        query = case.query if isinstance(case.query, dict) else {}
        ambiguous = any(query.get(name) in ("", [""]) for name in arrays)
        try:
            case.validate_response(response, checks=empty_array_checks if ambiguous else checks)
        except (AssertionError, BaseExceptionGroup) as exc:  # a check's Failure, or a FailureGroup of several
            report.failures.append(f"{mode} {case.method} {case.formatted_path} "
                                   f"query={case.query!r} body={str(case.body)[:200]!r}: {_short(exc)}")

    try:
        run()
    except Unsatisfiable:  # negative mode on an operation without inputs: nothing can be invalid
        if generation_mode is not GenerationMode.NEGATIVE:
            raise


# -- hand-written edge cases: what generators rarely produce -----------------------------------------

HUGE_INTS = ("99999999999999999999999999999999", "-1", "0", "2147483648", "1e308", "NaN", "Infinity")
UNICODE = ("ünïcødé", "🎬🍿", "\u202e\u0000", "𝔗𝔬𝔶", "' OR 1=1 --", "%00", "../../etc/passwd")


def _edge_bodies(max_content_length: int) -> list[tuple[str, bytes]]:
    return [
        ("empty", b""),
        ("whitespace", b"   \n"),
        ("oversized", b'{"ratings": [' + b" " * (max_content_length + 10) + b"]}"),
        ("invalid utf-8", b"\xff\xfe\xfd{"),
        ("deep nesting", b"[" * 100_000),
        ("NaN", b'{"ratings": [{"movie_id": 10, "rating": NaN}], "user_id": NaN, "movie_ids": [NaN]}'),
        ("huge numbers", b'{"ratings": [{"movie_id": 1' + b"0" * 400 + b', "rating": 1e999}], '
                         b'"user_id": 1' + b"0" * 5000 + b', "movie_ids": [1e400], "k": 1e308}'),
        ("unicode", json.dumps({"ratings": [{"movie_id": "🎬", "rating": "ünï"}], "user_id": "𝔗",
                                "movie_ids": ["\u0000"], "genres": ["\u202e"]}).encode()),
        ("array", b"[]"), ("string", b'"ratings"'), ("null", b"null"), ("number", b"1e999"),
    ]


def fuzz_edges(schema, send, max_content_length: int) -> OperationReport:
    """Edge cases for every operation, sent raw by `send(method, path, query, body, content_type)`.

    Checked directly: the status is declared for the operation (or a documented framework status: 404
    for a path that does not exist, 405, 413) and is not 5xx; an error body is `{"error": str}`.
    """
    report = OperationReport("edge cases")
    for result in schema.get_all_operations():
        op = result.ok()
        declared = {str(code) for code in op.definition.raw.get("responses", {})}
        params = [p for p in op.definition.raw.get("parameters", [])]
        path_template = op.path
        base_path = path_template.replace("{user_id}", "1")
        cases = []
        for p in params:
            for value in HUGE_INTS + UNICODE:
                if p["in"] == "query":
                    cases.append((base_path, {p["name"]: value}, None))
                else:
                    cases.append((path_template.replace("{" + p["name"] + "}", value.replace("/", "%2F")), {}, None))
        if op.method.upper() == "POST":
            cases += [(base_path, {}, body) for _, body in _edge_bodies(max_content_length)]
        cases.append((base_path, {"unknown": "x" * 10_000}, None))
        for path, query, body in cases:
            report.cases += 1
            try:
                status, content_type, payload = send(op.method.upper(), path, query, body)
            except Exception as exc:  # noqa: BLE001
                report.statuses["transport-error"] += 1
                report.failures.append(f"{op.method.upper()} {path} {query!r}: {_short(exc)}")
                continue
            report.statuses[str(status)] += 1
            allowed = declared | {"404"} if path != base_path else declared
            where = f"{op.method.upper()} {path} query={str(query)[:80]!r} body={(body or b'')[:60]!r}"
            if status >= 500 or (str(status) not in allowed and status != 200):
                report.failures.append(f"{where}: status {status} not declared {sorted(declared)}")
            elif status != 200 and (content_type != "application/json" or not isinstance(payload, dict)
                                    or not isinstance(payload.get("error"), str)):
                report.failures.append(f"{where}: status {status} without a JSON {{\"error\": ...}} body")
    return report


def wsgi_sender(app):
    client = app.test_client()

    def send(method, path, query, body):
        response = client.open(path, method=method, query_string=query, data=body,
                               content_type="application/json" if body is not None else None)
        payload = response.get_json(silent=True)
        return response.status_code, response.mimetype, payload

    return send


def http_sender(base_url: str):
    import requests

    session = requests.Session()

    def send(method, path, query, body):
        response = session.request(method, base_url + path, params=query, data=body, timeout=30,
                                   headers={"Content-Type": "application/json"} if body is not None else {})
        try:
            payload = response.json()
        except ValueError:
            payload = None
        return response.status_code, response.headers.get("Content-Type", "").split(";")[0], payload

    return send


def fuzz(app=None, base_url: str | None = None, examples: int = 50, seed: int = 0,
         max_content_length: int = 256 * 1024, known_user: int | None = 1) -> FuzzReport:
    """Generated cases + edge cases against `app` (in process) or `base_url` (over HTTP)."""
    import logging

    start = time.perf_counter()
    schema = load_schema(app, base_url)
    level = logging.getLogger("serve.app").level
    logging.getLogger("serve.app").setLevel(logging.CRITICAL)  # a 500 is counted, not printed
    try:
        reports = fuzz_generated(schema, examples, seed, base_url=base_url, known_user=known_user)
        send = wsgi_sender(app) if app is not None else http_sender(base_url)
        edges = fuzz_edges(schema, send, max_content_length)
    finally:
        logging.getLogger("serve.app").setLevel(level)
    return FuzzReport([*reports.values(), edges], time.perf_counter() - start)


# -- the command ---------------------------------------------------------------------------------------

@contextmanager
def small_model() -> Iterator[str]:
    """The service tests' small model registered as movierec@champion in a temporary store (own process)."""
    with tempfile.TemporaryDirectory(prefix="movierec-fuzz-") as root:
        env = {**os.environ, "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false"}
        out = subprocess.run([sys.executable, str(REPO_ROOT / "tests" / "browser" / "small_model.py"), root],
                             cwd=REPO_ROOT, env=env, capture_output=True, text=True, check=True)
        yield out.stdout.strip().splitlines()[-1]


@contextmanager
def production_server(tracking_uri: str | None, workers: int = 2) -> Iterator[str]:
    sys.path.insert(0, str(REPO_ROOT / "benchmarks"))
    from load import running_server  # noqa: E402 - the same launcher as the load test

    with running_server(tracking_uri, workers=workers) as server:
        yield server.base_url


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=500, help="generated cases per operation and mode")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--model", choices=("small", "champion"), default="small",
                        help="small: the test model in a temporary store; champion: <repo>/mlflow.db")
    parser.add_argument("--http", action="store_true", help="against `python -m serve` on loopback")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)

    from contextlib import nullcontext

    load_before = os.getloadavg()
    with (small_model() if args.model == "small" else nullcontext(None)) as uri:
        if args.http:
            with production_server(uri) as base_url:
                report = fuzz(base_url=base_url, examples=args.examples, seed=args.seed)
        else:
            from serve import create_app

            app = create_app(tracking_uri=uri, poll_seconds=0)
            store = app.extensions["movierec.store"]
            if store.current is None:
                raise SystemExit(f"no model: {store.last_error}")
            report = fuzz(app=app, examples=args.examples, seed=args.seed,
                          max_content_length=app.config["MAX_CONTENT_LENGTH"])
    result = {"examples_per_operation_and_mode": args.examples, "seed": args.seed, "model": args.model,
              "transport": "http (gunicorn)" if args.http else "wsgi (in process)",
              "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                          "loadavg_before": [round(x, 2) for x in load_before],
                          "loadavg_after": [round(x, 2) for x in os.getloadavg()]},
              **report.to_dict()}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    for op in report.operations:
        d = op.to_dict()
        print(f"{d['label']:<36} {d['cases']:>6} cases  5xx={d['n_5xx']}  failures={d['n_failures']}  "
              f"{d['statuses']}")
    print(f"total: {report.cases} cases, {report.n_5xx} 5xx, {len(report.failures)} failures, "
          f"{report.seconds:.0f} s; load average {result['machine']['loadavg_after']}")
    for failure in report.failures[:10]:
        print("FAIL", failure)
    return 1 if report.failures else 0


if __name__ == "__main__":
    sys.exit(main())
