"""The page in a real browser (headless Chromium) against the real service (`python -m serve`)
serving a small model: what a person sees for a known user, for a new user, and when things fail."""

from __future__ import annotations

import json
import re

import requests
from playwright.sync_api import Locator, Page, expect

K = 10  # the page asks the service for 10 of each
SERVICE_DOWN = {"error": "no model loaded yet: loading"}
# Every method of the small model, as the page asks it: a panel title, a path and the `method` it names.
# item_mean has no web/ code of its own: its panel comes from GET /methods alone.
PANELS = (("Embedding blend", "/recommend", None), ("User-user", "/recommend-simple", None),
          ("Damped item mean", "/recommend", "item_mean"))


def card(page: Page, scope: Locator, title: str) -> Locator:
    """One results card (embedding, user-user, top-rated) inside `scope`, by its heading."""
    return scope.locator("section").filter(has=page.get_by_role("heading", name=title, exact=True))


def shown_movie_ids(list_card: Locator, model) -> list[int]:
    """The movies a card lists, in order, identified by the title line the page shows for each."""
    lines = model.shown_as()
    shown = [(li.locator("p").first.text_content() or "").strip() for li in list_card.locator("ol > li").all()]
    unknown = [s for s in shown if s not in lines]
    assert not unknown, f"titles not in the model's movie table: {unknown}"
    return [lines[s] for s in shown]


def assert_stayed_home(tab) -> None:
    assert tab.requests, "the page made no requests at all"
    assert not tab.foreign_requests(), f"requests to other hosts: {tab.foreign_requests()}"
    assert not tab.page_errors, f"uncaught errors in the page: {tab.page_errors}"
    body = tab.page.locator("body").inner_text()
    assert "Traceback" not in body and "Internal Server Error" not in body


def test_known_user_sees_every_served_method_and_their_own_top_rated(tab, service):
    page, model, user = tab.page, service.model, 1
    rated = model.rated(user)
    page.goto("/")
    expect(page.get_by_role("tab", name="Known user")).to_have_attribute("aria-selected", "true")
    expect(page.get_by_role("status").filter(has_text="movierec v1")).to_be_visible()

    page.get_by_label("MovieLens user id").fill(str(user))
    page.get_by_role("button", name="Recommend").click()
    expect(page).to_have_url(re.compile(rf"\?user={user}$"))
    known = page.get_by_role("tabpanel", name="Known user")

    served = requests.get(service.base + "/methods", timeout=10).json()["methods"]
    assert [(m["label"], m.get("path", "/recommend")) for m in served] == [(t, p) for t, p, _ in PANELS]
    # one card per served method, in the service's order, after the user's own top-rated
    expect(known.get_by_role("heading", level=3)).to_have_text(
        [f"What user {user} rated highest"] + [m["label"] for m in served])
    for (title, path, method), info in zip(PANELS, served):
        panel = card(page, known, title)
        expect(panel.get_by_text(info["description"], exact=True)).to_be_visible()
        expect(panel).to_have_attribute("aria-busy", "false")
        expect(panel.locator("ol > li")).to_have_count(K)
        expect(panel.get_by_title("Model version that answered")).to_have_text("model v1")
        expect(panel.get_by_label(re.compile(r"^Predicted rating \d\.\d out of 5$"))).to_have_count(K)
        ids = shown_movie_ids(panel, model)
        assert len(set(ids)) == K, ids
        assert not set(ids) & set(rated), f"{title} recommends movies user {user} already rated"
        params = {"user_id": user, "k": K, **({"method": method} if method else {})}
        answer = requests.get(service.base + path, params=params, timeout=10).json()
        assert answer["method"] == info["name"]
        assert ids == [r["movie_id"] for r in answer["recommendations"]], f"{title}: not the service's order"
    expect(card(page, known, "User-user").get_by_text(re.compile(r"similar users? rated it"))).not_to_have_count(0)

    top = card(page, known, f"What user {user} rated highest")
    expect(top.locator("ol > li")).to_have_count(min(K, len(rated)))
    top_ids = shown_movie_ids(top, model)
    assert set(top_ids) <= set(rated)
    own = [rated[m] for m in top_ids]
    assert own == sorted(own, reverse=True) and own[0] == max(rated.values())
    expect(top.get_by_label(f"Rated {own[0]:.1f} out of 5")).not_to_have_count(0)

    tab.screenshot("known-user.png")
    assert_stayed_home(tab)


def test_new_user_rates_movies_and_recommendations_follow(tab, service):
    page, model = tab.page, service.model
    page.goto("/")
    page.get_by_role("tab", name="New user").click()
    new = page.get_by_role("tabpanel", name="New user")
    expect(new).to_be_visible()
    expect(page.get_by_role("tabpanel", name="Known user")).to_be_hidden()
    search = new.get_by_role("searchbox", name="Find movies you've seen")
    results = new.locator("section").filter(has=page.get_by_role("searchbox"))
    panels = [card(page, new, title) for title, _, _ in PANELS]
    embedding = panels[0]
    ratings: list[dict] = []

    def rated_then_check(action, movie_id: int, rating: float) -> None:
        """Do `action`; every method's list must then show the service's answer for all the ratings so far."""
        expected = [r for r in ratings if r["movie_id"] != movie_id] + [{"movie_id": movie_id, "rating": rating}]
        if any(r["movie_id"] == movie_id for r in ratings):
            expected = [dict(r, rating=rating) if r["movie_id"] == movie_id else r for r in ratings]

        def answers(path, method):
            def matches(r) -> bool:
                body = json.loads(r.request.post_data or "{}") if r.request.method == "POST" else {}
                return (r.request.method == "POST" and r.url == service.base + path
                        and body.get("method") == method and body.get("ratings") == expected)
            return matches

        (_, p0, m0), (_, p1, m1), (_, p2, m2) = PANELS
        with page.expect_response(answers(p0, m0)) as a0, page.expect_response(answers(p1, m1)) as a1, \
                page.expect_response(answers(p2, m2)) as a2:
            action()
        ratings[:] = expected
        expect(new.get_by_role("heading", name=re.compile(r"^Your ratings"))).to_have_text(
            f"Your ratings ({len(ratings)})")
        for panel, response in zip(panels, (a0.value, a1.value, a2.value)):
            assert response.ok, response.text()
            served = [r["movie_id"] for r in response.json()["recommendations"]]
            expect(panel).to_have_attribute("aria-busy", "false")
            expect(panel.locator("ol > li")).to_have_count(len(served))
            shown = shown_movie_ids(panel, model)
            assert shown == served
            assert not set(shown) & {r["movie_id"] for r in ratings}, "recommends a movie just rated"

    search.fill("toy")
    expect(results.get_by_role("slider")).to_have_count(3)  # Toy Story 10, 110, 210

    # Mouse: the right half of the fifth star is 5.0.
    star = results.get_by_role("slider", name="Your rating for Toy Story 10")
    rated_then_check(lambda: star.locator('[data-value="5"]').click(), 10, 5.0)
    expect(star).to_have_attribute("aria-valuenow", "5")

    # Keyboard: "2" sets two stars, the right arrow adds half a star.
    star = results.get_by_role("slider", name="Your rating for Toy Story 110")

    def keys():
        star.focus()
        page.keyboard.press("2")
        page.keyboard.press("ArrowRight")

    rated_then_check(keys, 110, 2.5)
    expect(star).to_have_attribute("aria-valuetext", "2.5 out of 5 stars")

    # Another search; the left half of the fourth star is 3.5.
    search.fill("movie 25")
    star = results.get_by_role("slider", name="Your rating for Movie 250")
    rated_then_check(lambda: star.locator('[data-value="3.5"]').click(), 250, 3.5)
    expect(embedding.locator("ol > li")).to_have_count(K)
    expect(embedding.get_by_title("Model version that answered")).to_have_text("model v1")

    # Changing a rating in "Your ratings" (keyboard: End = 5 stars) updates the lists too.
    mine = new.locator("section").filter(has=page.get_by_role("heading", name=re.compile(r"^Your ratings")))
    rated_then_check(lambda: mine.get_by_role("slider", name="Your rating for Toy Story 110").press("End"), 110, 5.0)

    search.fill("toy")
    expect(results.get_by_role("slider")).to_have_count(3)
    tab.screenshot("new-user.png")

    # The ratings are kept in this browser across a reload.
    page.reload()
    page.get_by_role("tab", name="New user").click()
    expect(new.get_by_role("heading", name=re.compile(r"^Your ratings"))).to_have_text("Your ratings (3)")
    expect(embedding.locator("ol > li")).to_have_count(K)
    assert_stayed_home(tab)


def test_unknown_user_and_bad_input_get_clear_messages(tab, service):
    page, unknown = tab.page, service.model.unknown_user
    page.goto("/")
    known = page.get_by_role("tabpanel", name="Known user")
    box = page.get_by_label("MovieLens user id")

    box.fill("abc")
    page.get_by_role("button", name="Recommend").click()
    expect(known.get_by_text("Enter a user id: a whole number, 1 or more.")).to_be_visible()
    expect(box).to_have_attribute("aria-invalid", "true")
    assert not [u for u in tab.requests if "/recommend" in u], "asked the service about a non-number"

    box.fill(str(unknown))
    page.get_by_role("button", name="Recommend").click()
    alert = known.get_by_role("alert")
    expect(alert).to_have_count(1)  # said once, not once per list
    expect(alert).to_contain_text("Not found")
    expect(alert).to_contain_text(f"unknown user {unknown}")
    expect(box).not_to_have_attribute("aria-invalid", "true")
    expect(page.get_by_role("heading", name="Movie recommendations")).to_be_visible()
    expect(known.locator("ol > li")).to_have_count(0)
    tab.screenshot("unknown-user.png")
    assert_stayed_home(tab)


def test_service_unavailable_is_explained_and_recoverable(tab, service):
    page = tab.page

    def is_api(url: str) -> bool:
        return re.match(rf"{re.escape(service.base)}/(health|recommend|recommend-simple|users/)", url) is not None

    def down(route):
        if "/top-rated" in route.request.url:
            route.abort("connectionrefused")  # as if the server were gone
        else:
            route.fulfill(status=503, json=SERVICE_DOWN)

    page.route(is_api, down)
    page.goto("/?user=1")
    known = page.get_by_role("tabpanel", name="Known user")
    expect(page.get_by_role("status").filter(has_text="Service unavailable")).to_be_visible()
    for title, _, _ in PANELS:
        alert = card(page, known, title).get_by_role("alert")
        expect(alert).to_contain_text("Service unavailable")
        expect(alert).to_contain_text("try again in a moment")
    expect(card(page, known, "What user 1 rated highest").get_by_role("alert")).to_contain_text(
        "Can't reach the service")

    page.unroute(is_api, down)  # the service is back
    embedding = card(page, known, "Embedding blend")
    embedding.get_by_role("button", name="Try again").click()
    expect(embedding.locator("ol > li")).to_have_count(K)
    page.get_by_role("button", name="retry", exact=True).click()
    expect(page.get_by_role("status").filter(has_text="movierec v1")).to_be_visible()
    assert_stayed_home(tab)
