import { cleanup, render, screen, within } from "@testing-library/react";
import { describe, expect, it } from "vitest";
import { ResultsList, displayTitle } from "@/components/ResultsList";

const toyStory = {
  movie_id: 1,
  title: "Toy Story (1995)",
  year: 1995,
  genres: ["Adventure", "Animation"],
  score: 2.31,
  predicted_rating: 4.4,
};

describe("ResultsList", () => {
  it("renders title, year, genres and the predicted rating", () => {
    render(<ResultsList items={[toyStory]} />);
    const item = screen.getAllByRole("list")[0].children[0] as HTMLElement;
    expect(item.textContent).toContain("Toy Story");
    expect(item.textContent).toContain("1995");
    expect(item.textContent).not.toContain("(1995)"); // year shown once, not twice
    const genres = within(item).getByRole("list", { name: "Genres" });
    expect(within(genres).getAllByRole("listitem").map((li) => li.textContent)).toEqual([
      "Adventure",
      "Animation",
    ]);
    expect(screen.getByLabelText("Predicted rating 4.4 out of 5").textContent).toBe("★ 4.4");
  });

  it("numbers the items in order", () => {
    render(
      <ResultsList
        items={[toyStory, { movie_id: 2, title: "Jumanji (1995)", year: 1995, genres: [], predicted_rating: 3.95 }]}
      />,
    );
    const ol = screen.getAllByRole("list")[0];
    expect(ol.tagName).toBe("OL");
    expect(ol.children[1].textContent).toContain("2.");
    expect(ol.children[1].textContent).toContain("Jumanji");
    expect(screen.getByLabelText("Predicted rating 4.0 out of 5")).toBeTruthy();
  });

  it("shows each item's 'because' text, and no reason line when it is blank", () => {
    render(
      <ResultsList
        items={[
          { ...toyStory, because: { code: "similar_users", text: "Liked by 12 users with taste like yours" } },
          { movie_id: 2, title: "Heat", year: null, genres: [], because: { code: "taste_profile", text: "  " } },
          { movie_id: 3, title: "Casino", year: null, genres: [] },
        ]}
      />,
    );
    expect(screen.getByText("Liked by 12 users with taste like yours")).toBeTruthy();
    // A blank reason, and missing year/genres/rating, render without crashing or an empty line.
    expect(screen.getByText("Heat")).toBeTruthy();
    expect(screen.getByText("Casino")).toBeTruthy();
    expect(document.querySelectorAll("p.italic")).toHaveLength(1);
  });

  it("shows the user's own rating for context lists", () => {
    render(<ResultsList items={[{ movie_id: 5, title: "Fargo (1996)", year: 1996, genres: ["Crime"], rating: 5 }]} />);
    expect(screen.getByLabelText("Rated 5.0 out of 5")).toBeTruthy();
    expect(screen.queryByLabelText(/Predicted rating/)).toBeNull();
  });

  it("shows the empty state instead of a list", () => {
    render(<ResultsList items={[]} emptyMessage="No recommendations for this user." />);
    expect(screen.getByText("No recommendations for this user.")).toBeTruthy();
    expect(screen.queryByRole("list")).toBeNull();
  });

  it("says when fewer movies than asked for match, above the list or instead of it", () => {
    render(<ResultsList items={[toyStory]} note="only 1 unrated movie matches the filters" />);
    expect(screen.getByRole("status").textContent).toBe("Only 1 unrated movie matches the filters.");
    expect(screen.getByText("Toy Story")).toBeTruthy();
    cleanup();
    render(<ResultsList items={[]} note="only 0 unrated movies match the filters" emptyMessage="Nothing." />);
    expect(screen.getByText("Only 0 unrated movies match the filters.")).toBeTruthy();
    expect(screen.queryByText("Nothing.")).toBeNull();
  });

  it("shows the embedding's 'because you liked' reason", () => {
    render(
      <ResultsList
        items={[{ ...toyStory, because: { code: "similar_to_liked", text: "because you liked Up", movie_ids: [2] } }]}
      />,
    );
    expect(screen.getByText("because you liked Up")).toBeTruthy();
  });

  it("keeps a title whose year suffix does not match", () => {
    expect(displayTitle("Toy Story (1995)", 1995)).toBe("Toy Story");
    expect(displayTitle("Blade Runner 2049", 2017)).toBe("Blade Runner 2049");
    expect(displayTitle("Untitled (2001)", null)).toBe("Untitled (2001)");
  });
});
