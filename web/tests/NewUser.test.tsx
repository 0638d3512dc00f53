import { fireEvent, render, screen, waitFor, within } from "@testing-library/react";
import { describe, expect, it, vi } from "vitest";
import { STORAGE_KEY } from "@/lib/useStoredRatings";
import { jsonResponse, methodOf, NewUserPage, SERVED } from "./served";

const toyStory = { movie_id: 1, title: "Toy Story (1995)", year: 1995, genres: ["Animation"], n_ratings: 12 };
const heat = { movie_id: 6, title: "Heat (1995)", year: 1995, genres: ["Crime"], n_ratings: 8 };

function stubService() {
  const fetch = vi.fn(async (url: string, init?: RequestInit) => {
    if (url === "/methods") return jsonResponse(SERVED);
    if (url.startsWith("/movies?")) return jsonResponse({ query: "heat", model_version: "3", movies: [heat] });
    return jsonResponse({
      method: methodOf(url, init),
      model_version: "3",
      n_candidates: 5,
      ignored_movie_ids: [],
      recommendations: [{ ...toyStory, score: 1, predicted_rating: 4, because: { code: "taste_profile", text: "fits" } }],
    });
  });
  vi.stubGlobal("fetch", fetch);
  return fetch;
}

const ratingsList = () => screen.getByRole("heading", { name: /Your ratings/ }).closest("section")!;
const postedRatings = (fetch: ReturnType<typeof stubService>) =>
  fetch.mock.calls.filter(([, init]) => init?.method === "POST").map(([, init]) => JSON.parse(init!.body as string).ratings);

describe("NewUser", () => {
  it("picks up the ratings saved in this browser and asks every served method for them", async () => {
    window.localStorage.setItem(STORAGE_KEY, JSON.stringify([{ movie: toyStory, rating: 4.5 }]));
    const fetch = stubService();
    render(<NewUserPage />);
    expect(within(ratingsList()).getByText("Toy Story")).toBeTruthy();
    await waitFor(() => expect(screen.getAllByText("model v3")).toHaveLength(3), { timeout: 2000 });
    expect(postedRatings(fetch)).toEqual(Array(3).fill([{ movie_id: 1, rating: 4.5 }]));
    for (const { label } of SERVED.methods) expect(screen.getByRole("heading", { name: label })).toBeTruthy();
  });

  it("rates a search result into the list and the browser's storage, and removes it again", async () => {
    stubService();
    render(<NewUserPage filters={{ genres: ["Crime"] }} />);
    fireEvent.change(screen.getByLabelText("Find movies you've seen"), { target: { value: "heat" } });
    const stars = await screen.findByRole("slider", { name: "Your rating for Heat (1995)" });
    fireEvent.keyDown(stars, { key: "4" });
    expect(within(ratingsList()).getByRole("heading").textContent).toBe("Your ratings (1)");
    expect(JSON.parse(window.localStorage.getItem(STORAGE_KEY)!)).toEqual([{ movie: heat, rating: 4 }]);
    // The search result's stars show the rating too, and changing either changes both.
    fireEvent.keyDown(within(ratingsList()).getByRole("slider"), { key: "ArrowRight" });
    expect(stars.getAttribute("aria-valuenow")).toBe("4.5");
    fireEvent.click(screen.getByRole("button", { name: "Remove your rating for Heat (1995)" }));
    expect(within(ratingsList()).getByRole("heading").textContent).toBe("Your ratings (0)");
    expect(window.localStorage.getItem(STORAGE_KEY)).toBe("[]");
  });
});
