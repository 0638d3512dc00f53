import { fireEvent, render, screen, within } from "@testing-library/react";
import { describe, expect, it, vi } from "vitest";
import { RatedList } from "@/components/RatedList";

const toyStory = { movie_id: 1, title: "Toy Story (1995)", year: 1995, genres: ["Animation"], n_ratings: 10 };
const heat = { movie_id: 6, title: "Heat (1995)", year: 1995, genres: ["Crime"], n_ratings: 4 };

function renderList(rated = [{ movie: toyStory, rating: 4 }, { movie: heat, rating: 2.5 }]) {
  const handlers = { onRate: vi.fn(), onRemove: vi.fn(), onClear: vi.fn() };
  render(<RatedList rated={rated} {...handlers} />);
  return handlers;
}

describe("RatedList", () => {
  it("invites rating when there is nothing yet, without a Clear all", () => {
    renderList([]);
    expect(screen.getByRole("heading").textContent).toBe("Your ratings (0)");
    expect(screen.getByText(/Search for a few movies/)).toBeTruthy();
    expect(screen.queryByRole("button", { name: "Clear all" })).toBeNull();
  });

  it("lists each rated movie with its stars, in order", () => {
    renderList();
    expect(screen.getByRole("heading").textContent).toBe("Your ratings (2)");
    const items = screen.getAllByRole("listitem");
    expect(items.map((li) => li.querySelector("p")?.textContent)).toEqual(["Toy Story1995", "Heat1995"]);
    expect(within(items[1]).getByRole("slider").getAttribute("aria-valuenow")).toBe("2.5");
  });

  it("re-rates, removes and clears through its handlers", () => {
    const { onRate, onRemove, onClear } = renderList();
    fireEvent.keyDown(screen.getByRole("slider", { name: "Your rating for Heat (1995)" }), { key: "5" });
    expect(onRate).toHaveBeenCalledWith(heat, 5);
    fireEvent.click(screen.getByRole("button", { name: "Remove your rating for Toy Story (1995)" }));
    expect(onRemove).toHaveBeenCalledWith(1);
    fireEvent.click(screen.getByRole("button", { name: "Clear all" }));
    expect(onClear).toHaveBeenCalledOnce();
  });
});
