"use client";

import { useState } from "react";
import { searchMovies, type Movie } from "@/lib/api";
import { useAsync, useDebounced } from "@/lib/hooks";
import { ErrorBox } from "./ErrorBox";
import { displayTitle } from "./ResultsList";
import { StarRating } from "./StarRating";

const MIN_QUERY = 2;
const LIMIT = 20;

interface MovieSearchProps {
  /** A movie's current rating, 0 when unrated (shown in its stars). */
  ratingOf: (movieId: number) => number;
  onRate: (movie: Movie, rating: number) => void;
  /** How long typing must pause before a search is sent. */
  delayMs?: number;
}

/** Search the catalogue by title (two letters or more) and rate what it finds. */
export function MovieSearch({ ratingOf, onRate, delayMs = 250 }: MovieSearchProps) {
  const [query, setQuery] = useState("");
  const q = useDebounced(query.trim(), delayMs);
  const search = useAsync(q.length >= MIN_QUERY ? q : null, (s) => searchMovies(q, LIMIT, s), {
    keepPrevious: true,
  });
  const results = search.data?.movies ?? [];

  return (
    <section className="min-w-0 rounded-xl border border-slate-200 bg-white p-4 shadow-sm">
      <label htmlFor="movie-search" className="block font-semibold text-slate-900">
        Find movies you&apos;ve seen
      </label>
      <input
        id="movie-search"
        type="search"
        autoComplete="off"
        placeholder="Search by title, e.g. toy story"
        value={query}
        onChange={(e) => setQuery(e.target.value)}
        className="mt-2 w-full rounded-md border border-slate-300 px-3 py-2 text-base focus:border-indigo-500 focus:outline-none focus:ring-2 focus:ring-indigo-500/40"
      />
      <div className="mt-3" aria-live="polite" aria-busy={search.loading}>
        {q.length < MIN_QUERY ? (
          <p className="text-sm text-slate-500">Type at least two letters to search.</p>
        ) : search.error ? (
          <ErrorBox error={search.error} onRetry={search.retry} />
        ) : search.loading && results.length === 0 ? (
          <p className="text-sm text-slate-500">Searching…</p>
        ) : results.length === 0 ? (
          <p className="text-sm text-slate-500">No movies match &ldquo;{q}&rdquo;.</p>
        ) : (
          <ul
            className={`max-h-96 divide-y divide-slate-100 overflow-y-auto pr-1 ${search.loading ? "opacity-60" : ""}`}
          >
            {results.map((m) => (
              <li key={m.movie_id} className="flex flex-wrap items-center justify-between gap-x-3 gap-y-1 py-2">
                <div className="min-w-0">
                  <p className="font-medium leading-snug text-slate-900">
                    {displayTitle(m.title, m.year)}
                    {m.year ? <span className="ml-1.5 text-sm font-normal text-slate-500">{m.year}</span> : null}
                  </p>
                  <p className="text-xs text-slate-500">
                    {m.genres.join(" · ")}
                    <span>
                      {m.genres.length ? " — " : ""}
                      {m.n_ratings.toLocaleString("en-US")} ratings
                    </span>
                  </p>
                </div>
                <StarRating size="sm" label={m.title} value={ratingOf(m.movie_id)} onChange={(v) => onRate(m, v)} />
              </li>
            ))}
          </ul>
        )}
      </div>
    </section>
  );
}
