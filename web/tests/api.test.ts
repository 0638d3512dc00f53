import { describe, expect, it, vi } from "vitest";
import {
  ApiError,
  becauseText,
  filtersKey,
  getFilterOptions,
  getMethods,
  getRecommendations,
  getUserTopRated,
  postRecommendations,
  searchMovies,
} from "@/lib/api";

function jsonResponse(body: unknown, status = 200): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { "Content-Type": "application/json" },
  });
}

function mockFetch(impl: (...args: unknown[]) => Promise<Response>) {
  const fn = vi.fn(impl);
  vi.stubGlobal("fetch", fn);
  return fn;
}

const recs = {
  user_id: 1,
  method: "embedding",
  model_version: "3",
  recommendations: [{ movie_id: 1, title: "Toy Story (1995)", genres: ["Animation"], year: 1995, score: 2.3, predicted_rating: 4.4 }],
};

describe("api client", () => {
  it("GETs each method's endpoint with relative URLs", async () => {
    const fetch = mockFetch(async () => jsonResponse(recs));
    await expect(getRecommendations("embedding", 1, 10)).resolves.toEqual(recs);
    await getRecommendations("user_user", 42, 5);
    await getRecommendations("item_mean", 3, 5);
    await getUserTopRated(7, 10);
    await searchMovies("toy story", 20);
    expect(fetch.mock.calls.map((c) => c[0])).toEqual([
      "/recommend?user_id=1&k=10",
      "/recommend-simple?user_id=42&k=5",
      "/recommend?user_id=3&k=5&method=item_mean", // a method without a path of its own
      "/users/7/top-rated?limit=10",
      "/movies?query=toy+story&limit=20",
    ]);
  });

  it("POSTs a taste profile as JSON", async () => {
    const fetch = mockFetch(async () => jsonResponse({ ...recs, ignored_movie_ids: [999] }));
    const res = await postRecommendations("user_user", [{ movie_id: 1, rating: 4.5 }], 10);
    expect(res.ignored_movie_ids).toEqual([999]);
    const [url, init] = fetch.mock.calls[0] as [string, RequestInit];
    expect(url).toBe("/recommend-simple");
    expect(init.method).toBe("POST");
    expect((init.headers as Record<string, string>)["Content-Type"]).toBe("application/json");
    expect(JSON.parse(init.body as string)).toEqual({ ratings: [{ movie_id: 1, rating: 4.5 }], k: 10 });
    await postRecommendations("item_mean", [{ movie_id: 1, rating: 4.5 }], 10);
    const [other, otherInit] = fetch.mock.calls[1] as [string, RequestInit];
    expect(other).toBe("/recommend");
    expect(JSON.parse(otherInit.body as string)).toEqual({ ratings: [{ movie_id: 1, rating: 4.5 }], k: 10, method: "item_mean" });
  });

  it("asks a method from GET /methods at the path the service gives it, else /recommend with method", async () => {
    const fetch = mockFetch(async () => jsonResponse(recs));
    await getRecommendations({ name: "renamed", path: "/recommend-simple" }, 1, 10);
    await getRecommendations({ name: "user_user" }, 1, 10); // the service says it has no path of its own
    await postRecommendations({ name: "brand_new", path: "/elsewhere" }, [{ movie_id: 1, rating: 4 }], 10);
    expect(fetch.mock.calls.map((c) => c[0])).toEqual([
      "/recommend-simple?user_id=1&k=10",
      "/recommend?user_id=1&k=10&method=user_user",
      "/recommend",
    ]);
    expect(JSON.parse((fetch.mock.calls[2][1] as RequestInit).body as string).method).toBe("brand_new");
  });

  it("GETs the served model's methods", async () => {
    const methods = { model_version: "3", methods: [{ name: "item_mean", label: "Damped item mean", description: "d", reasons: {} }] };
    const fetch = mockFetch(async () => jsonResponse(methods));
    await expect(getMethods()).resolves.toEqual(methods);
    expect(fetch.mock.calls[0][0]).toBe("/methods");
  });

  it("sends filters in the query (lists comma-separated) and in the POST body, leaving unset ones out", async () => {
    const fetch = mockFetch(async () => jsonResponse(recs));
    const filters = { genres: ["Comedy", "Sci-Fi"], exclude_genres: [], year_min: 1990, year_max: null, min_ratings: 0 };
    await getRecommendations("embedding", 1, 10, filters);
    await getRecommendations("user_user", 1, 10, { exclude_genres: ["Horror"], min_ratings: 50, year_max: 1999 });
    await postRecommendations("embedding", [{ movie_id: 1, rating: 4 }], 5, filters);
    const urls = fetch.mock.calls.map((c) => c[0]);
    expect(urls[0]).toBe("/recommend?user_id=1&k=10&genres=Comedy%2CSci-Fi&year_min=1990");
    expect(urls[1]).toBe("/recommend-simple?user_id=1&k=10&exclude_genres=Horror&year_max=1999&min_ratings=50");
    const init = fetch.mock.calls[2][1] as RequestInit;
    expect(JSON.parse(init.body as string)).toEqual({
      ratings: [{ movie_id: 1, rating: 4 }],
      k: 5,
      genres: ["Comedy", "Sci-Fi"],
      year_min: 1990,
    });
  });

  it("keys requests by the set filters only", () => {
    expect(filtersKey({})).toBe(filtersKey({ genres: [], min_ratings: 0, year_min: null }));
    expect(filtersKey({ genres: ["Drama"] })).not.toBe(filtersKey({ exclude_genres: ["Drama"] }));
  });

  it("GETs the filter options", async () => {
    const options = { genres: [{ name: "Drama", n_movies: 3 }], year_min: 1990, year_max: 2000 };
    const fetch = mockFetch(async () => jsonResponse(options));
    await expect(getFilterOptions()).resolves.toEqual(options);
    expect(fetch.mock.calls[0][0]).toBe("/filters");
  });

  it("turns an error JSON into an ApiError with the service's message", async () => {
    mockFetch(async () => jsonResponse({ error: "unknown user 99999" }, 404));
    const err = await getRecommendations("embedding", 99999).catch((e) => e);
    expect(err).toBeInstanceOf(ApiError);
    expect(err.status).toBe(404);
    expect(err.message).toBe("unknown user 99999");
    expect(err.serverMessage).toBe("unknown user 99999");
  });

  it("copes with an error that is not JSON", async () => {
    mockFetch(async () => new Response("<html>Service Unavailable</html>", { status: 503 }));
    const err = await getRecommendations("embedding", 1).catch((e) => e);
    expect(err).toBeInstanceOf(ApiError);
    expect(err.status).toBe(503);
    expect(err.serverMessage).toBeNull();
    expect(err.message).toBe("Request failed with status 503");
  });

  it("reports a network failure as status 0", async () => {
    mockFetch(async () => {
      throw new TypeError("Failed to fetch");
    });
    const err = await searchMovies("toy").catch((e) => e);
    expect(err).toBeInstanceOf(ApiError);
    expect(err.status).toBe(0);
    expect(err.message).toMatch(/could not be reached/);
  });

  it("lets an abort through unchanged", async () => {
    mockFetch(async () => {
      throw new DOMException("The operation was aborted.", "AbortError");
    });
    const err = await searchMovies("toy").catch((e) => e);
    expect(err).not.toBeInstanceOf(ApiError);
    expect(err.name).toBe("AbortError");
  });

  it("rejects a 200 whose body is not JSON", async () => {
    mockFetch(async () => new Response("<!doctype html>", { status: 200 }));
    await expect(getRecommendations("embedding", 1)).rejects.toBeInstanceOf(ApiError);
  });

  it("reads the line of text of a 'because'", () => {
    expect(becauseText({ code: "similar_to_liked", text: "because you liked Heat", movie_ids: [6] })).toBe(
      "because you liked Heat",
    );
    expect(becauseText({ code: "similar_users", text: " 3 similar users rated it, 4.0 on average " })).toBe(
      "3 similar users rated it, 4.0 on average",
    );
    expect(becauseText({ code: "taste_profile", text: "  " })).toBeNull();
    expect(becauseText(undefined)).toBeNull();
  });
});
