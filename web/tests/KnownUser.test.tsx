import { fireEvent, render, screen, waitFor } from "@testing-library/react";
import { describe, expect, it, vi } from "vitest";
import { KnownUser } from "@/components/KnownUser";

function jsonResponse(body: unknown, status = 200): Response {
  return new Response(JSON.stringify(body), { status, headers: { "Content-Type": "application/json" } });
}

const movie = { movie_id: 1, title: "Toy Story (1995)", year: 1995, genres: ["Animation"] };

describe("KnownUser", () => {
  it("shows both methods side by side with the model version, and the user's top-rated", async () => {
    vi.stubGlobal(
      "fetch",
      vi.fn(async (url: string) => {
        if (url.startsWith("/users/")) return jsonResponse({ user_id: 1, movies: [{ ...movie, rating: 5 }] });
        const method = url.startsWith("/recommend-simple") ? "user_user" : "embedding";
        return jsonResponse({
          user_id: 1,
          method,
          model_version: "3",
          recommendations: [{ ...movie, score: 1, predicted_rating: 4.4, because: { code: method === "user_user" ? "similar_users" : "taste_profile", text: `Because you liked Heat (${method})` } }],
        });
      }),
    );
    render(<KnownUser />);
    fireEvent.change(screen.getByLabelText("MovieLens user id"), { target: { value: "1" } });
    fireEvent.click(screen.getByRole("button", { name: "Recommend" }));
    await waitFor(() => expect(screen.getAllByText("model v3")).toHaveLength(2));
    expect(screen.getByText("Embedding blend")).toBeTruthy();
    expect(screen.getByText("User-user")).toBeTruthy();
    expect(screen.getByText("Because you liked Heat (embedding)")).toBeTruthy();
    expect(screen.getByText("Because you liked Heat (user_user)")).toBeTruthy();
    expect(screen.getByLabelText("Rated 5.0 out of 5")).toBeTruthy();
  });

  it("asks both methods with the filters, shows each reason and the service's note", async () => {
    const fetch = vi.fn(async (url: string) => {
      if (url.startsWith("/users/")) return jsonResponse({ user_id: 1, movies: [{ ...movie, rating: 5 }] });
      const userUser = url.startsWith("/recommend-simple");
      return jsonResponse({
        user_id: 1,
        method: userUser ? "user_user" : "embedding",
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
    render(<KnownUser filters={{ genres: ["Animation"], year_min: 1990 }} />);
    fireEvent.change(screen.getByLabelText("MovieLens user id"), { target: { value: "1" } });
    fireEvent.click(screen.getByRole("button", { name: "Recommend" }));
    await waitFor(() => expect(screen.getAllByText("model v3")).toHaveLength(2));
    const urls = fetch.mock.calls.map((c) => c[0]);
    expect(urls).toContain("/recommend?user_id=1&k=10&genres=Animation&year_min=1990");
    expect(urls).toContain("/recommend-simple?user_id=1&k=10&genres=Animation&year_min=1990");
    expect(urls).toContain("/users/1/top-rated?limit=10"); // their own ratings are not filtered
    expect(screen.getByText("because you liked Heat")).toBeTruthy();
    expect(screen.getByText("12 similar users rated it, 4.3 on average")).toBeTruthy();
    expect(screen.getAllByText("Only 1 unrated movie matches the filters.")).toHaveLength(2);
  });

  it("says once that an unknown user is unknown", async () => {
    vi.stubGlobal("fetch", vi.fn(async () => jsonResponse({ error: "unknown user 99999" }, 404)));
    render(<KnownUser />);
    fireEvent.change(screen.getByLabelText("MovieLens user id"), { target: { value: "99999" } });
    fireEvent.click(screen.getByRole("button", { name: "Recommend" }));
    await waitFor(() => expect(screen.getAllByRole("alert")).toHaveLength(1));
    expect(screen.getByRole("alert").textContent).toContain("unknown user 99999");
  });

  it("says it once while the slower answers are still coming", async () => {
    let answerTopRated: (r: Response) => void = () => {};
    const topRated = new Promise<Response>((resolve) => (answerTopRated = resolve));
    const notFound = () => jsonResponse({ error: "unknown user 99999" }, 404);
    vi.stubGlobal(
      "fetch",
      vi.fn(async (url: string) => (url.startsWith("/users/") ? topRated : notFound())),
    );
    render(<KnownUser />);
    fireEvent.change(screen.getByLabelText("MovieLens user id"), { target: { value: "99999" } });
    fireEvent.click(screen.getByRole("button", { name: "Recommend" }));
    await waitFor(() => expect(screen.getByRole("alert").textContent).toContain("unknown user 99999"));
    await new Promise((r) => setTimeout(r, 20)); // both recommendation answers are in by now
    expect(screen.getAllByRole("alert")).toHaveLength(1);
    answerTopRated(notFound());
    await new Promise((r) => setTimeout(r, 20));
    expect(screen.getAllByRole("alert")).toHaveLength(1);
    expect(screen.getByRole("alert").textContent).toContain("unknown user 99999");
  });

  it("rejects an id that is not a positive whole number without calling the service", () => {
    const fetch = vi.fn();
    vi.stubGlobal("fetch", fetch);
    render(<KnownUser />);
    fireEvent.change(screen.getByLabelText("MovieLens user id"), { target: { value: "abc" } });
    fireEvent.click(screen.getByRole("button", { name: "Recommend" }));
    expect(screen.getByText(/whole number/)).toBeTruthy();
    expect(fetch).not.toHaveBeenCalled();
  });
});
