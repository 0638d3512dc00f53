"""Fixtures for the end-to-end browser tests: the small model registered in a temporary MLflow
store, the production server (`python -m serve`) serving it, and Debian's headless Chromium.

Locally, a missing Chromium / Playwright / `web/out` skips these tests; in CI (`$CI` set) it fails them.
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest
from browser_harness import ARTIFACTS, CHROMIUM, REPO_ROOT, VIEWPORT, WEB_INDEX, launch_chromium, running_service

SERVE_TESTS = Path(__file__).resolve().parents[1] / "serve"
if str(SERVE_TESTS) not in sys.path:
    sys.path.insert(0, str(SERVE_TESTS))

from serve_testdata import UNKNOWN_USER, synthetic_ratings  # noqa: E402


def require(ok: bool, why: str) -> None:
    """Skip when `ok` is false, except in CI, where these tests must run: there it is a failure."""
    if ok:
        return
    if os.environ.get("CI"):
        pytest.fail(f"browser tests cannot run in CI: {why}", pytrace=False)
    pytest.skip(why)


@dataclass(frozen=True)
class SmallModel:
    tracking_uri: str
    ratings: pd.DataFrame  # user_id, movie_id, rating: every rating the model was trained on
    movies: pd.DataFrame   # the bundle's movie table: movie_id, title, year, genres, ...
    unknown_user: int = UNKNOWN_USER

    def rated(self, user_id: int) -> dict[int, float]:
        mine = self.ratings[self.ratings["user_id"] == user_id]
        return dict(zip(mine["movie_id"].tolist(), mine["rating"].tolist()))

    def shown_as(self) -> dict[str, int]:
        """How the page writes each movie's title line (title, then year) -> movie_id."""
        lines = {f"{t}{'' if pd.isna(y) else int(y)}": int(m)
                 for m, t, y in zip(self.movies["movie_id"], self.movies["title"], self.movies["year"])}
        assert len(lines) == len(self.movies), "two movies would look the same on the page"
        return lines


@dataclass(frozen=True)
class Service:
    base: str
    model: SmallModel


@pytest.fixture(scope="module")
def prerequisites() -> None:
    """Checked before anything slow starts."""
    require(WEB_INDEX.is_file(), f"{WEB_INDEX.relative_to(REPO_ROOT)} is missing: "
                                 "run `cd web && npm ci && npm run build` (or `make web`)")
    require(CHROMIUM.is_file() and os.access(CHROMIUM, os.X_OK),
            f"no Chromium at {CHROMIUM} (apt-get install chromium, or set MOVIEREC_CHROMIUM)")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        require(False, "Python playwright is not installed: pip install -e '.[test]'")


@pytest.fixture(scope="module")
def small_model(prerequisites, tmp_path_factory) -> SmallModel:
    root = tmp_path_factory.mktemp("browser-registry")
    env = {**os.environ, "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false",
           "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")]))}
    done = subprocess.run([sys.executable, str(Path(__file__).with_name("small_model.py")), str(root)],
                          env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return SmallModel(done.stdout.strip().splitlines()[-1], synthetic_ratings(),
                      pd.read_parquet(root / "bundle" / "movies.parquet"))


@pytest.fixture(scope="module")
def service(small_model, tmp_path_factory) -> Service:
    log = tmp_path_factory.mktemp("browser-serve") / "serve.log"
    with running_service(log, small_model.tracking_uri) as base:
        yield Service(base, small_model)


@pytest.fixture(scope="module")
def browser(service):
    """Started after the service and closed before it stops (open keep-alive connections would
    hold up the server's graceful shutdown)."""
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=15_000)
    with sync_playwright() as p:
        browser = launch_chromium(p)
        yield browser
        browser.close()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    setattr(item, f"report_{report.when}", report)
    return report


class Tab:
    """A fresh page (own cookies and localStorage) on the service, recording what it asks for."""

    def __init__(self, context, page, base: str) -> None:
        self.context, self.page, self.base = context, page, base
        self.requests: list[str] = []   # every URL the page requested, in order
        self.page_errors: list[str] = []  # uncaught exceptions in the page
        page.on("request", lambda r: self.requests.append(r.url))
        page.on("pageerror", lambda e: self.page_errors.append(str(e)))

    def foreign_requests(self) -> list[str]:
        return [u for u in self.requests if not (u == self.base or u.startswith(self.base + "/"))]

    def screenshot(self, name: str) -> Path:
        ARTIFACTS.mkdir(exist_ok=True)
        path = ARTIFACTS / name
        self.page.screenshot(path=str(path))
        return path


@pytest.fixture
def tab(browser, service, request):
    (ARTIFACTS / f"failed-{request.node.name}.png").unlink(missing_ok=True)
    context = browser.new_context(viewport=VIEWPORT, base_url=service.base, service_workers="block")
    context.set_default_timeout(15_000)
    # Nothing may leave the machine: other hosts are refused here and reported by the tests.
    context.route(lambda url: not url.startswith(service.base + "/"), lambda route: route.abort())
    tab = Tab(context, context.new_page(), service.base)
    yield tab
    report = getattr(request.node, "report_call", None)
    if report is not None and report.failed:
        tab.screenshot(f"failed-{request.node.name}.png")
    context.close()
