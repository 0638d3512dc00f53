"use client";

import { useEffect, useMemo, useState } from "react";
import { filtersKey, postRecommendations, searchMovies, type Movie, type MovieFilters } from "@/lib/api";
import { useAsync, useDebounced } from "@/lib/hooks";
import { ErrorBox } from "./ErrorBox";
import { MethodResults } from "./MethodResults";
import { displayTitle } from "./ResultsList";
import { StarRating } from "./StarRating";

const K = 10;
const STORAGE_KEY = "movierec.ratings.v1";

interface Rated {
  movie: Movie;
  rating: number;
}

export function NewUser({ filters = {} }: { filters?: MovieFilters }) {
  const [query, setQuery] = useState("");
  const [rated, setRated] = useState<Rated[]>([]);
  const [restored, setRestored] = useState(false);

  // Keep the taste profile across reloads (this browser only).
  useEffect(() => {
    try {
      const saved = JSON.parse(window.localStorage.getItem(STORAGE_KEY) ?? "[]");
      if (Array.isArray(saved)) setRated(saved.filter((r) => r?.movie?.movie_id && r.rating > 0));
    } catch {
      /* ignore a corrupt entry */
    }
    setRestored(true);
  }, []);
  useEffect(() => {
    if (!restored) return;
    try {
      window.localStorage.setItem(STORAGE_KEY, JSON.stringify(rated));
    } catch {
      /* storage full or disabled: not important */
    }
  }, [rated, restored]);

  const q = useDebounced(query.trim(), 250);
  const search = useAsync(q.length >= 2 ? q : null, (s) => searchMovies(q, 20, s), {
    keepPrevious: true,
  });

  const ratingFor = useMemo(() => new Map(rated.map((r) => [r.movie.movie_id, r.rating])), [rated]);
  // The request body's ratings, as a string so it can key the requests; sent 500 ms after the last change.
  const currentKey = rated.length
    ? JSON.stringify(rated.map((r) => ({ movie_id: r.movie.movie_id, rating: r.rating })))
    : null;
  const ratingsKey = useDebounced(currentKey, 500);
  const pending = currentKey !== ratingsKey;
  const load = (method: "embedding" | "user_user") => (s: AbortSignal) =>
    postRecommendations(method, JSON.parse(ratingsKey!), K, filters, s);
  const requestKey = ratingsKey === null ? null : `${ratingsKey} ${filtersKey(filters)}`;
  const embedding = useAsync(requestKey, load("embedding"), { keepPrevious: true });
  const userUser = useAsync(requestKey, load("user_user"), { keepPrevious: true });

  function rate(movie: Movie, rating: number) {
    setRated((prev) => {
      const i = prev.findIndex((r) => r.movie.movie_id === movie.movie_id);
      if (i === -1) return [...prev, { movie, rating }];
      const next = prev.slice();
      next[i] = { movie, rating };
      return next;
    });
  }
  function remove(movieId: number) {
    setRated((prev) => prev.filter((r) => r.movie.movie_id !== movieId));
  }

  const ignored = new Set([
    ...(embedding.data?.ignored_movie_ids ?? []),
    ...(userUser.data?.ignored_movie_ids ?? []),
  ]);
  const ignoredTitles = rated.filter((r) => ignored.has(r.movie.movie_id)).map((r) => r.movie.title);
  const searchResults = search.data?.movies ?? [];

  return (
    <div className="space-y-5">
      <div className="grid gap-4 md:grid-cols-2">
        {/* Search and rate */}
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
            {q.length < 2 ? (
              <p className="text-sm text-slate-500">Type at least two letters to search.</p>
            ) : search.error ? (
              <ErrorBox error={search.error} onRetry={search.retry} />
            ) : search.loading && searchResults.length === 0 ? (
              <p className="text-sm text-slate-500">Searching…</p>
            ) : searchResults.length === 0 ? (
              <p className="text-sm text-slate-500">No movies match &ldquo;{q}&rdquo;.</p>
            ) : (
              <ul
                className={`max-h-96 divide-y divide-slate-100 overflow-y-auto pr-1 ${search.loading ? "opacity-60" : ""}`}
              >
                {searchResults.map((m) => (
                  <li key={m.movie_id} className="flex flex-wrap items-center justify-between gap-x-3 gap-y-1 py-2">
                    <div className="min-w-0">
                      <p className="font-medium leading-snug text-slate-900">
                        {displayTitle(m.title, m.year)}
                        {m.year ? <span className="ml-1.5 text-sm font-normal text-slate-500">{m.year}</span> : null}
                      </p>
                      <p className="text-xs text-slate-500">
                        {(m.genres ?? []).join(" · ")}
                        {typeof m.n_ratings === "number" ? (
                          <span>
                            {m.genres?.length ? " — " : ""}
                            {m.n_ratings.toLocaleString("en-US")} ratings
                          </span>
                        ) : null}
                      </p>
                    </div>
                    <StarRating
                      size="sm"
                      label={m.title}
                      value={ratingFor.get(m.movie_id) ?? 0}
                      onChange={(v) => rate(m, v)}
                    />
                  </li>
                ))}
              </ul>
            )}
          </div>
        </section>

        {/* The taste profile */}
        <section className="min-w-0 rounded-xl border border-slate-200 bg-white p-4 shadow-sm">
          <div className="flex items-baseline justify-between gap-2">
            <h3 className="font-semibold text-slate-900">
              Your ratings <span className="font-normal text-slate-500">({rated.length})</span>
            </h3>
            {rated.length > 0 ? (
              <button
                type="button"
                onClick={() => setRated([])}
                className="rounded text-sm text-slate-500 underline-offset-2 hover:text-rose-700 hover:underline focus:outline-none focus-visible:ring-2 focus-visible:ring-indigo-500"
              >
                Clear all
              </button>
            ) : null}
          </div>
          {rated.length === 0 ? (
            <p className="mt-3 rounded-lg border border-dashed border-slate-300 px-4 py-6 text-center text-sm text-slate-500">
              Search for a few movies and rate them with the stars. Recommendations update as you go.
            </p>
          ) : (
            <ul className="mt-2 max-h-96 divide-y divide-slate-100 overflow-y-auto pr-1">
              {rated.map(({ movie, rating }) => (
                <li key={movie.movie_id} className="flex flex-wrap items-center justify-between gap-x-3 gap-y-1 py-2">
                  <p className="min-w-0 font-medium leading-snug text-slate-900">
                    {displayTitle(movie.title, movie.year)}
                    {movie.year ? <span className="ml-1.5 text-sm font-normal text-slate-500">{movie.year}</span> : null}
                  </p>
                  <div className="flex items-center gap-1">
                    <StarRating size="sm" label={movie.title} value={rating} onChange={(v) => rate(movie, v)} />
                    <button
                      type="button"
                      onClick={() => remove(movie.movie_id)}
                      aria-label={`Remove your rating for ${movie.title}`}
                      title="Remove"
                      className="rounded-md px-2 py-1 text-lg leading-none text-slate-400 hover:bg-slate-100 hover:text-rose-700 focus:outline-none focus-visible:ring-2 focus-visible:ring-indigo-500"
                    >
                      ×
                    </button>
                  </div>
                </li>
              ))}
            </ul>
          )}
        </section>
      </div>

      {ignoredTitles.length > 0 ? (
        <p className="rounded-lg border border-sky-200 bg-sky-50 px-4 py-3 text-sm text-sky-800" role="status">
          The model doesn&apos;t know {ignoredTitles.length === 1 ? "one of your movies" : `${ignoredTitles.length} of your movies`}{" "}
          yet, so {ignoredTitles.length === 1 ? "it was" : "they were"} left out: {ignoredTitles.join(", ")}.
        </p>
      ) : null}

      {rated.length === 0 ? null : (
        <div className="grid gap-4 md:grid-cols-2">
          <MethodResults method="embedding" request={embedding} pending={pending} emptyMessage="No recommendations yet." />
          <MethodResults method="user_user" request={userUser} pending={pending} emptyMessage="No recommendations yet." />
        </div>
      )}
    </div>
  );
}
