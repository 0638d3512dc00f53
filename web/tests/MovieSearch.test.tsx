import { act, fireEvent, render, screen, waitFor, within } from "@testing-library/react";
import { describe, expect, it, vi } from "vitest";
import { MovieSearch } from "@/components/MovieSearch";

function jsonResponse(body: unknown, status = 200): Response {
  return new Response(JSON.stringify(body), { status, headers: { "Content-Type": "application/json" } });
}

const toyStory = { movie_id: 1, title: "Toy Story (1995)", year: 1995, genres: ["Animation", "Comedy"], n_ratings: 1234 };
const toys = { movie_id: 2, title: "Toys (1992)", year: 1992, genres: [], n_ratings: 7 };

function renderSearch(movies = [toyStory, toys], ratingOf = (id: number) => (id === 1 ? 4.5 : 0)) {
  const fetch = vi.fn(async (url: string) => jsonResponse({ query: url, model_version: "3", movies }));
  vi.stubGlobal("fetch", fetch);
  const onRate = vi.fn();
  render(<MovieSearch ratingOf={ratingOf} onRate={onRate} delayMs={5} />);
  const type = (text: string) => fireEvent.change(screen.getByLabelText("Find movies you've seen"), { target: { value: text } });
  return { fetch, onRate, type };
}

describe("MovieSearch", () => {
  it("waits for two letters before it asks the service", async () => {
    const { fetch, type } = renderSearch();
    type(" t ");
    await act(() => new Promise((r) => setTimeout(r, 30)));
    expect(screen.getByText("Type at least two letters to search.")).toBeTruthy();
    expect(fetch).not.toHaveBeenCalled();
  });

  it("searches once typing pauses and shows each movie with its current rating", async () => {
    const { fetch, type } = renderSearch();
    type("to");
    type("toy");
    await waitFor(() => expect(screen.getAllByRole("listitem")).toHaveLength(2));
    expect(fetch.mock.calls.map((c) => c[0])).toEqual(["/movies?query=toy&limit=20"]);
    const [first, second] = screen.getAllByRole("listitem");
    expect(first.textContent).toContain("Toy Story1995");
    expect(first.textContent).toContain("Animation · Comedy — 1,234 ratings");
    expect(second.textContent).toContain("7 ratings");
    expect(within(first).getByRole("slider").getAttribute("aria-valuenow")).toBe("4.5");
    expect(within(second).getByRole("slider").getAttribute("aria-valuenow")).toBeNull();
  });

  it("hands a rating to onRate with the movie it is for", async () => {
    const { onRate, type } = renderSearch();
    type("toy");
    fireEvent.keyDown(await screen.findByRole("slider", { name: "Your rating for Toys (1992)" }), { key: "3" });
    expect(onRate).toHaveBeenCalledWith(toys, 3);
  });

  it("says when nothing matches", async () => {
    const { type } = renderSearch([]);
    type("zzz");
    expect(await screen.findByText("No movies match “zzz”.")).toBeTruthy();
  });

  it("shows the service's error with a retry", async () => {
    vi.stubGlobal("fetch", vi.fn(async () => jsonResponse({ error: "no model loaded yet: loading" }, 503)));
    render(<MovieSearch ratingOf={() => 0} onRate={() => {}} delayMs={5} />);
    fireEvent.change(screen.getByLabelText("Find movies you've seen"), { target: { value: "toy" } });
    expect((await screen.findByRole("alert")).textContent).toContain("Service unavailable");
    expect(screen.getByRole("button", { name: "Try again" })).toBeTruthy();
  });
});
