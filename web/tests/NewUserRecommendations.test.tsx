import { render, renderHook, screen, waitFor, within } from "@testing-library/react";
import { describe, expect, it, vi } from "vitest";
import type { MovieFilters, RatingInput } from "@/lib/api";
import { useNewUserRecommendations } from "@/lib/useNewUserRecommendations";
import { jsonResponse, methodOf, NewUserRecommendationsPage, SERVED } from "./served";

const METHODS = SERVED.methods;

const heat = { movie_id: 6, title: "Heat (1995)", year: 1995, genres: ["Crime"] };

/** A service answering /methods and the POSTs; `ignored` (per method) are the movie ids it does not know. */
function stubService(ignored: (method: string) => number[] = () => []) {
  const fetch = vi.fn(async (url: string, init?: RequestInit) => {
    if (url === "/methods") return jsonResponse(SERVED);
    const method = methodOf(url, init);
    return jsonResponse({
      method,
      model_version: "3",
      n_candidates: 1,
      ignored_movie_ids: ignored(method),
      recommendations: [{ ...heat, score: 1, predicted_rating: 4.2, because: { code: "taste_profile", text: `from ${method}` } }],
    });
  });
  vi.stubGlobal("fetch", fetch);
  return fetch;
}

const posts = (fetch: ReturnType<typeof stubService>) =>
  fetch.mock.calls.filter(([, init]) => init?.method === "POST").map(([url, init]) => [url, JSON.parse(init!.body as string)]);

describe("useNewUserRecommendations", () => {
  it("asks nothing without ratings", async () => {
    const fetch = stubService();
    const { result } = renderHook(() => useNewUserRecommendations(METHODS, [], {}, { delayMs: 5 }));
    await new Promise((r) => setTimeout(r, 30));
    expect(fetch).not.toHaveBeenCalled();
    expect(Object.keys(result.current.results)).toEqual(["embedding", "user_user", "item_mean"]);
    expect(result.current.results.embedding.data).toBeNull();
    expect(result.current.pending).toBe(false);
  });

  it("POSTs the settled ratings to every method, once per pause, and again when the filters change", async () => {
    const fetch = stubService();
    const { result, rerender } = renderHook(
      ({ ratings, filters }: { ratings: RatingInput[]; filters: MovieFilters }) =>
        useNewUserRecommendations(METHODS, ratings, filters, { delayMs: 20 }),
      { initialProps: { ratings: [] as RatingInput[], filters: {} } },
    );
    rerender({ ratings: [{ movie_id: 1, rating: 4 }], filters: {} });
    expect(result.current.pending).toBe(true);
    rerender({ ratings: [{ movie_id: 1, rating: 4.5 }], filters: {} });
    rerender({ ratings: [{ movie_id: 1, rating: 4.5 }, { movie_id: 6, rating: 2 }], filters: {} });
    await waitFor(() => expect(result.current.results.item_mean.data?.method).toBe("item_mean"));
    expect(result.current.results.user_user.data?.method).toBe("user_user");
    expect(result.current.pending).toBe(false);
    const ratings = [{ movie_id: 1, rating: 4.5 }, { movie_id: 6, rating: 2 }];
    expect(posts(fetch)).toEqual([
      ["/recommend", { ratings, k: 10 }],
      ["/recommend-simple", { ratings, k: 10 }],
      ["/recommend", { ratings, k: 10, method: "item_mean" }],
    ]);

    rerender({ ratings, filters: { genres: ["Crime"], year_min: null } });
    await waitFor(() => expect(fetch).toHaveBeenCalledTimes(6));
    expect(posts(fetch).slice(3)).toEqual([
      ["/recommend", { ratings, k: 10, genres: ["Crime"] }],
      ["/recommend-simple", { ratings, k: 10, genres: ["Crime"] }],
      ["/recommend", { ratings, k: 10, method: "item_mean", genres: ["Crime"] }],
    ]);
  });

  it("collects the movie ids the model does not know, from every method", async () => {
    stubService((method) => (method === "item_mean" ? [98, 99] : [99]));
    const { result } = renderHook(() =>
      useNewUserRecommendations(METHODS, [{ movie_id: 98, rating: 3 }, { movie_id: 99, rating: 3 }], {}, { delayMs: 5 }),
    );
    await waitFor(() => expect([...result.current.ignoredIds].sort()).toEqual([98, 99]));
  });
});

describe("NewUserRecommendations", () => {
  const rated = (id: number, title: string, rating = 4) => ({
    movie: { movie_id: id, title, year: null, genres: [], n_ratings: 1 },
    rating,
  });

  it("shows nothing until something is rated", () => {
    stubService();
    const { container } = render(<NewUserRecommendationsPage rated={[]} />);
    expect(container.textContent).toBe("");
  });

  it("shows every served method's picks and names the rated movies the model left out", async () => {
    stubService(() => [98, 99]);
    render(<NewUserRecommendationsPage rated={[rated(1, "Toy Story"), rated(98, "New A"), rated(99, "New B")]} />);
    for (const { name, label } of METHODS) {
      const panel = (await screen.findByRole("heading", { name: label })).closest("section")!;
      expect(await within(panel).findByText(`from ${name}`)).toBeTruthy();
    }
    expect(screen.getAllByText("model v3")).toHaveLength(3);
    const note = screen.getAllByRole("status").find((el) => el.textContent?.includes("doesn't know"));
    expect(note?.textContent).toBe(
      "The model doesn't know 2 of your movies yet, so they were left out: New A, New B.",
    );
  });
});
