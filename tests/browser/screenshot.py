"""Screenshots of the page against the REAL model (not a test): the README's picture.

    .venv/bin/python tests/browser/screenshot.py [--user 1] [--docs]

Starts `python -m serve` from the repo with no MLFLOW_TRACKING_URI, so it serves `movierec@champion`
from `<repo>/mlflow.db` (run the pipeline first: `make pipeline`), opens the page in headless Chromium
(1280x900) and writes test-artifacts/real-known-user.png and real-new-user.png; `--docs` also copies
the known-user one to docs/screenshot.png.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import urllib.request
from pathlib import Path

from playwright.sync_api import expect, sync_playwright

sys.path[:0] = [str(Path(__file__).resolve().parent), str(Path(__file__).resolve().parents[2])]  # harness, serve

from browser_harness import ARTIFACTS, REPO_ROOT, VIEWPORT, launch_chromium, running_service  # noqa: E402

NEW_USER_RATINGS = (("toy story", "Toy Story", "5"), ("matrix", "Matrix, The", "4"),
                    ("finding nemo", "Finding Nemo", "5"))


def lists_loaded(panel) -> None:
    expect(panel.locator("section[aria-busy='false'] ol > li").first).to_be_visible()
    expect(panel.locator("section[aria-busy='true']")).to_have_count(0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--user", type=int, default=1, help="known user to show (default 1)")
    parser.add_argument("--docs", action="store_true", help="also copy the known-user shot to docs/screenshot.png")
    args = parser.parse_args()
    ARTIFACTS.mkdir(exist_ok=True)
    expect.set_options(timeout=30_000)
    with tempfile.TemporaryDirectory() as tmp, \
            running_service(Path(tmp) / "serve.log", tracking_uri=None, timeout=300) as base, \
            sync_playwright() as p:
        browser = launch_chromium(p)
        page = browser.new_page(viewport=VIEWPORT, base_url=base)

        page.goto(f"/?user={args.user}")
        known = page.get_by_role("tabpanel", name="Known user")
        with urllib.request.urlopen(f"{base}/methods", timeout=30) as reply:
            served = json.load(reply)
        n_methods = len(served["methods"] if isinstance(served, dict) else served)
        expect(known.locator("section")).to_have_count(n_methods + 1)  # one per method + the rated movies
        lists_loaded(known)
        known_png = ARTIFACTS / "real-known-user.png"
        page.screenshot(path=str(known_png))

        page.get_by_role("tab", name="New user").click()
        new = page.get_by_role("tabpanel", name="New user")
        search = new.get_by_role("searchbox")
        for query, title, key in NEW_USER_RATINGS:
            search.fill(query)
            new.get_by_role("slider", name=f"Your rating for {title}", exact=True).first.press(key)
        search.fill("toy story")
        lists_loaded(new)
        page.screenshot(path=str(ARTIFACTS / "real-new-user.png"))
        browser.close()
    if args.docs:
        (REPO_ROOT / "docs").mkdir(exist_ok=True)
        shutil.copyfile(known_png, REPO_ROOT / "docs" / "screenshot.png")
    print(f"screenshots in {ARTIFACTS}")


if __name__ == "__main__":
    main()
