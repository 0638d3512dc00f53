import { render, renderHook, screen, waitFor } from "@testing-library/react";
import { describe, expect, it, vi } from "vitest";
import { NewUserRecommendations } from "@/components/NewUserRecommendations";
import type { MovieFilters, RatingInput } from "@/lib/api";
import { useNewUserRecommendations } from "@/lib/useNewUserRecommendations";

function jsonResponse(body: unknown, status = 200): Response {
  return new Response(JSON.stringify(body), { status, headers: { "Content-Type": "application/json" } });
}

const heat = { movie_id: 6, title: "Heat (1995)", year: 1995, genres: ["Crime"] };

/** A service answering both POST endpoints; `ignored` are the movie ids it does not know. */
function stubService(ignored: number[] = []) {
  const fetch = vi.fn(async (url: string, _init?: RequestInit) =>
    jsonResponse({
      method: url === "/recommend-simple" ? "user_user" : "embedding",
      model_version: "3",
      n_candidates: 1,
      ignored_movie_ids: ignored,
      recommendations: [{ ...heat, score: 1, predicted_rating: 4.2, because: { code: "taste_profile", text: `from ${url}` } }],
    }),
  );
  vi.stubGlobal("fetch", fetch);
  return fetch;
}

const posts = (fetch: ReturnType<typeof stubService>) =>
  fetch.mock.calls.map(([url, init]) => [url, JSON.parse(init!.body as string)]);

describe("useNewUserRecommendations", () => {
  it("asks nothing without ratings", async () => {
    const fetch = stubService();
    const { result } = renderHook(() => useNewUserRecommendations([], {}, { delayMs: 5 }));
    await new Promise((r) => setTimeout(r, 30));
    expect(fetch).not.toHaveBeenCalled();
    expect(result.current.embedding.data).toBeNull();
    expect(result.current.pending).toBe(false);
  });

  it("POSTs the settled ratings to both methods, once per pause, and again when the filters change", async () => {
    const fetch = stubService();
    const { result, rerender } = renderHook(
      ({ ratings, filters }: { ratings: RatingInput[]; filters: MovieFilters }) =>
        useNewUserRecommendations(ratings, filters, { delayMs: 20 }),
      { initialProps: { ratings: [] as RatingInput[], filters: {} } },
    );
    rerender({ ratings: [{ movie_id: 1, rating: 4 }], filters: {} });
    expect(result.current.pending).toBe(true);
    rerender({ ratings: [{ movie_id: 1, rating: 4.5 }], filters: {} });
    rerender({ ratings: [{ movie_id: 1, rating: 4.5 }, { movie_id: 6, rating: 2 }], filters: {} });
    await waitFor(() => expect(result.current.userUser.data?.method).toBe("user_user"));
    expect(result.current.pending).toBe(false);
    const ratings = [{ movie_id: 1, rating: 4.5 }, { movie_id: 6, rating: 2 }];
    expect(posts(fetch)).toEqual([
      ["/recommend", { ratings, k: 10 }],
      ["/recommend-simple", { ratings, k: 10 }],
    ]);

    rerender({ ratings, filters: { genres: ["Crime"], year_min: null } });
    await waitFor(() => expect(fetch).toHaveBeenCalledTimes(4));
    expect(posts(fetch).slice(2)).toEqual([
      ["/recommend", { ratings, k: 10, genres: ["Crime"] }],
      ["/recommend-simple", { ratings, k: 10, genres: ["Crime"] }],
    ]);
  });

  it("collects the movie ids the model does not know", async () => {
    stubService([99]);
    const { result } = renderHook(() => useNewUserRecommendations([{ movie_id: 99, rating: 3 }], {}, { delayMs: 5 }));
    await waitFor(() => expect([...result.current.ignoredIds]).toEqual([99]));
  });
});

describe("NewUserRecommendations", () => {
  const rated = (id: number, title: string, rating = 4) => ({
    movie: { movie_id: id, title, year: null, genres: [], n_ratings: 1 },
    rating,
  });

  it("shows nothing until something is rated", () => {
    stubService();
    const { container } = render(<NewUserRecommendations rated={[]} />);
    expect(container.textContent).toBe("");
  });

  it("shows both methods' picks and names the rated movies the model left out", async () => {
    stubService([98, 99]);
    render(<NewUserRecommendations rated={[rated(1, "Toy Story"), rated(98, "New A"), rated(99, "New B")]} />);
    expect(await screen.findByText("from /recommend")).toBeTruthy();
    expect(await screen.findByText("from /recommend-simple")).toBeTruthy();
    expect(screen.getAllByText("model v3")).toHaveLength(2);
    const note = screen.getAllByRole("status").find((el) => el.textContent?.includes("doesn't know"));
    expect(note?.textContent).toBe(
      "The model doesn't know 2 of your movies yet, so they were left out: New A, New B.",
    );
  });
});
