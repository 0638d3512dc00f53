import { fireEvent, render, screen } from "@testing-library/react";
import { useState } from "react";
import { describe, expect, it, vi } from "vitest";
import { FilterBar } from "@/components/FilterBar";
import type { FilterOptions, MovieFilters } from "@/lib/api";

const OPTIONS: FilterOptions = {
  model_version: "3",
  genres: [
    { name: "Comedy", n_movies: 15 },
    { name: "Drama", n_movies: 12 },
    { name: "Horror", n_movies: 3 },
  ],
  year_min: 1902,
  year_max: 2018,
};

/** The bar with its value held like the page holds it; `changes` records every onChange. */
function renderBar(initial: MovieFilters = {}, options: FilterOptions | null = OPTIONS) {
  const changes: MovieFilters[] = [];
  function Host() {
    const [value, setValue] = useState<MovieFilters>(initial);
    return (
      <FilterBar
        options={options}
        value={value}
        onChange={(next) => {
          changes.push(next);
          setValue(next);
        }}
      />
    );
  }
  render(<Host />);
  return changes;
}

describe("FilterBar", () => {
  it("shows one chip per genre, all off at first", () => {
    renderBar();
    const chips = screen.getAllByRole("button").filter((b) => b.textContent && OPTIONS.genres.some((g) => b.textContent!.includes(g.name)));
    expect(chips.map((c) => c.textContent)).toEqual(["Comedy", "Drama", "Horror"]);
    expect(screen.getByText(/apply to every method/)).toBeTruthy();
    expect(screen.queryByRole("button", { name: "Clear filters" })).toBeNull();
  });

  it("cycles a genre: only these, then hidden, then off", () => {
    const changes = renderBar();
    fireEvent.click(screen.getByRole("button", { name: "Comedy" }));
    expect(changes.at(-1)).toMatchObject({ genres: ["Comedy"], exclude_genres: [] });
    expect(screen.getByRole("button", { name: "Comedy (only these)" })).toBeTruthy();

    fireEvent.click(screen.getByRole("button", { name: "Drama" }));
    expect(changes.at(-1)).toMatchObject({ genres: ["Comedy", "Drama"], exclude_genres: [] });

    fireEvent.click(screen.getByRole("button", { name: "Comedy (only these)" }));
    expect(changes.at(-1)).toMatchObject({ genres: ["Drama"], exclude_genres: ["Comedy"] });
    expect(screen.getByRole("button", { name: "Comedy (hidden)" })).toBeTruthy();

    fireEvent.click(screen.getByRole("button", { name: "Comedy (hidden)" }));
    expect(changes.at(-1)).toMatchObject({ genres: ["Drama"], exclude_genres: [] });
    expect(screen.getByText(/1 active/)).toBeTruthy();
  });

  it("sends a year range once it is valid, and explains an invalid one without sending it", () => {
    const changes = renderBar();
    fireEvent.change(screen.getByLabelText("From year"), { target: { value: "1990" } });
    expect(changes.at(-1)).toMatchObject({ year_min: 1990, year_max: null });

    fireEvent.change(screen.getByLabelText("To year"), { target: { value: "1980" } });
    expect(screen.getByText("The first year must not be after the second.")).toBeTruthy();
    expect(screen.getByLabelText("To year").getAttribute("aria-invalid")).toBe("true");
    expect(changes.at(-1)).toMatchObject({ year_min: 1990, year_max: null }); // held back

    fireEvent.change(screen.getByLabelText("To year"), { target: { value: "19x5" } });
    expect(screen.getByText("Years are whole numbers, e.g. 1995.")).toBeTruthy();

    fireEvent.change(screen.getByLabelText("To year"), { target: { value: "1999" } });
    expect(screen.queryByText(/must not be after|whole numbers/)).toBeNull();
    expect(changes.at(-1)).toMatchObject({ year_min: 1990, year_max: 1999 });
  });

  it("shows the catalogue's year range as placeholders", () => {
    renderBar();
    expect(screen.getByLabelText("From year").getAttribute("placeholder")).toBe("1902");
    expect(screen.getByLabelText("To year").getAttribute("placeholder")).toBe("2018");
  });

  it("sets a popularity floor", () => {
    const changes = renderBar();
    fireEvent.change(screen.getByLabelText("Popularity"), { target: { value: "100" } });
    expect(changes.at(-1)).toMatchObject({ min_ratings: 100 });
    expect(screen.getByText(/1 active/)).toBeTruthy();
  });

  it("clears everything, the typed years too", () => {
    const changes = renderBar({ genres: ["Drama"], min_ratings: 50 });
    fireEvent.change(screen.getByLabelText("From year"), { target: { value: "2001" } });
    expect(screen.getByText(/3 active/)).toBeTruthy();
    fireEvent.click(screen.getByRole("button", { name: "Clear filters" }));
    expect(changes.at(-1)).toEqual({});
    expect((screen.getByLabelText("From year") as HTMLInputElement).value).toBe("");
    expect(screen.getByRole("button", { name: "Drama" })).toBeTruthy();
  });

  it("still offers years and popularity while the genres are unknown", () => {
    const onChange = vi.fn();
    render(<FilterBar options={null} value={{}} onChange={onChange} />);
    expect(screen.queryByRole("list", { name: "Genres" })).toBeNull();
    fireEvent.change(screen.getByLabelText("From year"), { target: { value: "2000" } });
    expect(onChange).toHaveBeenCalledWith({ year_min: 2000, year_max: null });
  });
});
