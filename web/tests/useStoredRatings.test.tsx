import { act, renderHook } from "@testing-library/react";
import { describe, expect, it, vi } from "vitest";
import type { Movie } from "@/lib/api";
import { STORAGE_KEY, readStoredRatings, useStoredRatings } from "@/lib/useStoredRatings";

const movie = (movie_id: number, title: string): Movie => ({ movie_id, title, year: 1995, genres: [], n_ratings: 10 });
const toyStory = movie(1, "Toy Story (1995)");
const heat = movie(6, "Heat (1995)");
const saved = () => JSON.parse(window.localStorage.getItem(STORAGE_KEY) ?? "null");

describe("useStoredRatings", () => {
  it("restores the saved ratings, skipping entries that are not ratings", () => {
    window.localStorage.setItem(
      STORAGE_KEY,
      JSON.stringify([
        { movie: toyStory, rating: 4 },
        { movie: heat, rating: 0 },
        { movie: { title: "no id" }, rating: 3 },
        "junk",
        null,
        { movie: heat, rating: 3.5 },
      ]),
    );
    const { result } = renderHook(() => useStoredRatings());
    expect(result.current.rated).toEqual([
      { movie: toyStory, rating: 4 },
      { movie: heat, rating: 3.5 },
    ]);
    expect(result.current.ratingOf(6)).toBe(3.5);
    expect(result.current.ratingOf(2)).toBe(0);
  });

  it("reads a corrupt or missing store as no ratings", () => {
    expect(readStoredRatings()).toEqual([]);
    window.localStorage.setItem(STORAGE_KEY, "{not json");
    expect(readStoredRatings()).toEqual([]);
    window.localStorage.setItem(STORAGE_KEY, JSON.stringify({ movie: toyStory, rating: 4 }));
    expect(readStoredRatings()).toEqual([]);
  });

  it("never writes its empty start over the saved ratings", () => {
    window.localStorage.setItem(STORAGE_KEY, JSON.stringify([{ movie: toyStory, rating: 4 }]));
    const setItem = vi.spyOn(Storage.prototype, "setItem");
    renderHook(() => useStoredRatings());
    expect(setItem.mock.calls.map((c) => c[1])).not.toContain("[]");
    expect(saved()).toEqual([{ movie: toyStory, rating: 4 }]);
  });

  it("rates, re-rates in place, removes and clears, saving each change", () => {
    const { result } = renderHook(() => useStoredRatings());
    act(() => result.current.rate(toyStory, 4));
    act(() => result.current.rate(heat, 2.5));
    act(() => result.current.rate(toyStory, 5));
    expect(result.current.rated.map((r) => [r.movie.movie_id, r.rating])).toEqual([
      [1, 5],
      [6, 2.5],
    ]);
    expect(saved()).toEqual(result.current.rated);
    act(() => result.current.remove(1));
    expect(saved()).toEqual([{ movie: heat, rating: 2.5 }]);
    act(() => result.current.clear());
    expect(result.current.rated).toEqual([]);
    expect(saved()).toEqual([]);
  });

  it("keeps working when storage refuses to save", () => {
    vi.spyOn(Storage.prototype, "setItem").mockImplementation(() => {
      throw new DOMException("full", "QuotaExceededError");
    });
    const { result } = renderHook(() => useStoredRatings());
    act(() => result.current.rate(toyStory, 4));
    expect(result.current.ratingOf(1)).toBe(4);
  });
});
