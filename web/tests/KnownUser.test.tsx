import { fireEvent, render, screen, waitFor, within } from "@testing-library/react";
import { describe, expect, it, vi } from "vitest";
import { jsonResponse, KnownUserPage, methodOf, SERVED } from "./served";

const movie = { movie_id: 1, title: "Toy Story (1995)", year: 1995, genres: ["Animation"] };

/** A service with the given methods: /methods lists them, each answers with its name in the reason. */
function stubService(methods = SERVED) {
  const fetch = vi.fn(async (url: string, init?: RequestInit) => {
    if (url === "/methods") return jsonResponse(methods);
    if (url.startsWith("/users/")) return jsonResponse({ user_id: 1, movies: [{ ...movie, rating: 5 }] });
    const method = methodOf(url, init);
    return jsonResponse({
      user_id: 1,
      method,
      model_version: "3",
      recommendations: [{ ...movie, score: 1, predicted_rating: 4.4, because: { code: "c", text: `Because you liked Heat (${method})` } }],
    });
  });
  vi.stubGlobal("fetch", fetch);
  return fetch;
}

function showUser(id: string) {
  fireEvent.change(screen.getByLabelText("MovieLens user id"), { target: { value: id } });
  fireEvent.click(screen.getByRole("button", { name: "Recommend" }));
}

const panel = (title: string) => screen.getByRole("heading", { name: title }).closest("section")!;

describe("KnownUser", () => {
  it("shows one panel per served method, titled by the service, and the user's top-rated", async () => {
    const fetch = stubService();
    render(<KnownUserPage />);
    showUser("1");
    await waitFor(() => expect(screen.getAllByText("model v3")).toHaveLength(3));
    for (const { name, label, description } of SERVED.methods) {
      expect(within(panel(label)).getByText(description)).toBeTruthy();
      expect(within(panel(label)).getByText(`Because you liked Heat (${name})`)).toBeTruthy();
    }
    expect(screen.getByLabelText("Rated 5.0 out of 5")).toBeTruthy();
    const urls = fetch.mock.calls.map((c) => c[0]);
    expect(urls.filter((u) => u.startsWith("/methods"))).toEqual(["/methods"]);
    // the two original methods keep their own paths; the others are /recommend with method
    expect(urls).toContain("/recommend?user_id=1&k=10");
    expect(urls).toContain("/recommend-simple?user_id=1&k=10");
    expect(urls).toContain("/recommend?user_id=1&k=10&method=item_mean");
  });

  it("shows a method the page has never heard of, in the service's order", async () => {
    const brandNew = { name: "brand_new", label: "Brand new", description: "Added to the model only", reasons: {} };
    const fetch = stubService({ model_version: "3", methods: [brandNew, SERVED.methods[1]] });
    render(<KnownUserPage />);
    showUser("1");
    await waitFor(() => expect(screen.getAllByText("model v3")).toHaveLength(2));
    expect(screen.getByText("Because you liked Heat (brand_new)")).toBeTruthy();
    const titles = screen.getAllByRole("heading", { level: 3 }).map((h) => h.textContent);
    expect(titles).toEqual(["What user 1 rated highest", "Brand new", "User-user"]);
    expect(screen.queryByText("Embedding blend")).toBeNull();
    expect(fetch.mock.calls.map((c) => c[0])).toContain("/recommend?user_id=1&k=10&method=brand_new");
  });

  it("asks every method with the filters, shows each reason and the service's note", async () => {
    const fetch = vi.fn(async (url: string) => {
      if (url === "/methods") return jsonResponse(SERVED);
      if (url.startsWith("/users/")) return jsonResponse({ user_id: 1, movies: [{ ...movie, rating: 5 }] });
      const userUser = url.startsWith("/recommend-simple");
      return jsonResponse({
        user_id: 1,
        method: methodOf(url),
        model_version: "3",
        n_candidates: 1,
        note: "only 1 unrated movie matches the filters",
        recommendations: [
          {
            ...movie,
            score: 1,
            predicted_rating: 4.4,
            because: userUser
              ? { code: "similar_users", text: "12 similar users rated it, 4.3 on average" }
              : { code: "similar_to_liked", text: "because you liked Heat", movie_ids: [6] },
          },
        ],
      });
    });
    vi.stubGlobal("fetch", fetch);
    render(<KnownUserPage filters={{ genres: ["Animation"], year_min: 1990 }} />);
    showUser("1");
    await waitFor(() => expect(screen.getAllByText("model v3")).toHaveLength(3));
    const urls = fetch.mock.calls.map((c) => c[0]);
    expect(urls).toContain("/recommend?user_id=1&k=10&genres=Animation&year_min=1990");
    expect(urls).toContain("/recommend-simple?user_id=1&k=10&genres=Animation&year_min=1990");
    expect(urls).toContain("/recommend?user_id=1&k=10&method=item_mean&genres=Animation&year_min=1990");
    expect(urls).toContain("/users/1/top-rated?limit=10"); // their own ratings are not filtered
    expect(screen.getAllByText("because you liked Heat")).toHaveLength(2);
    expect(screen.getByText("12 similar users rated it, 4.3 on average")).toBeTruthy();
    expect(screen.getAllByText("Only 1 unrated movie matches the filters.")).toHaveLength(3);
  });

  it("retries one method's panel alone", async () => {
    let itemMeanUp = false;
    const fetch = stubService();
    const served = fetch.getMockImplementation()!;
    fetch.mockImplementation(async (url: string, init?: RequestInit) =>
      url.includes("method=item_mean") && !itemMeanUp ? jsonResponse({ error: "busy" }, 503) : served(url, init),
    );
    render(<KnownUserPage />);
    showUser("1");
    const itemMean = () => panel("Damped item mean");
    await waitFor(() => expect(within(itemMean()).getByRole("alert").textContent).toContain("Service unavailable"));
    expect(screen.getAllByText("model v3")).toHaveLength(2);
    const asked = fetch.mock.calls.length;
    itemMeanUp = true;
    fireEvent.click(within(itemMean()).getByRole("button", { name: "Try again" }));
    await waitFor(() => expect(screen.getAllByText("model v3")).toHaveLength(3));
    expect(fetch.mock.calls.slice(asked).map((c) => c[0])).toEqual(["/recommend?user_id=1&k=10&method=item_mean"]);
  });

  it("says when the methods cannot be listed, and gets them on retry", async () => {
    let methodsUp = false;
    const fetch = stubService();
    const served = fetch.getMockImplementation()!;
    fetch.mockImplementation(async (url: string, init?: RequestInit) =>
      url === "/methods" && !methodsUp ? jsonResponse({ error: "no model loaded yet" }, 503) : served(url, init),
    );
    render(<KnownUserPage />);
    showUser("1");
    await waitFor(() => expect(within(panel("Recommendations")).getByRole("alert").textContent).toContain("Service unavailable"));
    expect(screen.getByLabelText("Rated 5.0 out of 5")).toBeTruthy(); // their own list still shows
    methodsUp = true;
    fireEvent.click(within(panel("Recommendations")).getByRole("button", { name: "Try again" }));
    await waitFor(() => expect(screen.getAllByText("model v3")).toHaveLength(3));
    expect(screen.queryByRole("heading", { name: "Recommendations" })).toBeNull();
  });

  it("says once that an unknown user is unknown", async () => {
    vi.stubGlobal(
      "fetch",
      vi.fn(async (url: string) => (url === "/methods" ? jsonResponse(SERVED) : jsonResponse({ error: "unknown user 99999" }, 404))),
    );
    render(<KnownUserPage />);
    showUser("99999");
    await waitFor(() => expect(screen.getAllByRole("alert")).toHaveLength(1));
    expect(screen.getByRole("alert").textContent).toContain("unknown user 99999");
  });

  it("says it once while the slower answers are still coming", async () => {
    let answerTopRated: (r: Response) => void = () => {};
    const topRated = new Promise<Response>((resolve) => (answerTopRated = resolve));
    const notFound = () => jsonResponse({ error: "unknown user 99999" }, 404);
    vi.stubGlobal(
      "fetch",
      vi.fn(async (url: string) => (url === "/methods" ? jsonResponse(SERVED) : url.startsWith("/users/") ? topRated : notFound())),
    );
    render(<KnownUserPage />);
    showUser("99999");
    await waitFor(() => expect(screen.getByRole("alert").textContent).toContain("unknown user 99999"));
    await new Promise((r) => setTimeout(r, 20)); // every recommendation answer is in by now
    expect(screen.getAllByRole("alert")).toHaveLength(1);
    answerTopRated(notFound());
    await new Promise((r) => setTimeout(r, 20));
    expect(screen.getAllByRole("alert")).toHaveLength(1);
    expect(screen.getByRole("alert").textContent).toContain("unknown user 99999");
  });

  it("rejects an id that is not a positive whole number without calling the service", async () => {
    const fetch = stubService();
    render(<KnownUserPage />);
    await waitFor(() => expect(fetch).toHaveBeenCalledTimes(1)); // the methods, once
    showUser("abc");
    expect(screen.getByText(/whole number/)).toBeTruthy();
    await new Promise((r) => setTimeout(r, 20));
    expect(fetch.mock.calls.map((c) => c[0])).toEqual(["/methods"]);
  });
});
