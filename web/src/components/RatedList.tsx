"use client";

import type { Movie } from "@/lib/api";
import type { Rated } from "@/lib/useStoredRatings";
import { displayTitle } from "./ResultsList";
import { StarRating } from "./StarRating";

interface RatedListProps {
  rated: Rated[];
  onRate: (movie: Movie, rating: number) => void;
  onRemove: (movieId: number) => void;
  onClear: () => void;
}

/** The new user's taste profile: every rated movie, to re-rate or remove. */
export function RatedList({ rated, onRate, onRemove, onClear }: RatedListProps) {
  return (
    <section className="min-w-0 rounded-xl border border-slate-200 bg-white p-4 shadow-sm">
      <div className="flex items-baseline justify-between gap-2">
        <h3 className="font-semibold text-slate-900">
          Your ratings <span className="font-normal text-slate-500">({rated.length})</span>
        </h3>
        {rated.length > 0 ? (
          <button
            type="button"
            onClick={onClear}
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
                <StarRating size="sm" label={movie.title} value={rating} onChange={(v) => onRate(movie, v)} />
                <button
                  type="button"
                  onClick={() => onRemove(movie.movie_id)}
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
  );
}
