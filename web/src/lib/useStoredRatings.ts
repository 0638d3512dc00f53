"use client";

import { useCallback, useEffect, useMemo, useState } from "react";
import type { Movie } from "./api";

/** Where the new user's ratings live in this browser (localStorage). */
export const STORAGE_KEY = "movierec.ratings.v1";

/** A movie the visitor rated, with the search result it was rated from (for the list). */
export interface Rated {
  movie: Movie;
  rating: number;
}

function isRated(value: unknown): value is Rated {
  const r = value as Rated | null;
  return (
    typeof r?.movie?.movie_id === "number" &&
    r.movie.movie_id > 0 &&
    typeof r.movie.title === "string" &&
    typeof r.rating === "number" &&
    r.rating > 0
  );
}

/** The saved ratings; an entry that is not a rating, or a corrupt or missing store, reads as none. */
export function readStoredRatings(key: string = STORAGE_KEY): Rated[] {
  try {
    const saved: unknown = JSON.parse(window.localStorage.getItem(key) ?? "[]");
    return Array.isArray(saved) ? saved.filter(isRated) : [];
  } catch {
    return []; // a corrupt entry, or storage disabled
  }
}

function writeStoredRatings(rated: Rated[], key: string): void {
  try {
    window.localStorage.setItem(key, JSON.stringify(rated));
  } catch {
    /* storage full or disabled: not important */
  }
}

export interface StoredRatings {
  /** In the order they were first rated. */
  rated: Rated[];
  /** Rate a movie, or change its rating (it keeps its place in the list). */
  rate: (movie: Movie, rating: number) => void;
  remove: (movieId: number) => void;
  clear: () => void;
  /** The movie's rating, 0 when it is not rated. */
  ratingOf: (movieId: number) => number;
}

/**
 * The new user's taste profile, kept across reloads in this browser only. It is read after the
 * first render (the static page has no storage at build time), and written on every change after.
 */
export function useStoredRatings(key: string = STORAGE_KEY): StoredRatings {
  const [rated, setRated] = useState<Rated[]>([]);
  const [restored, setRestored] = useState(false);

  useEffect(() => {
    setRated(readStoredRatings(key));
    setRestored(true);
  }, [key]);
  useEffect(() => {
    // Not before the saved ratings are read: the empty start would overwrite them.
    if (restored) writeStoredRatings(rated, key);
  }, [rated, restored, key]);

  const rate = useCallback((movie: Movie, rating: number) => {
    setRated((prev) => {
      const i = prev.findIndex((r) => r.movie.movie_id === movie.movie_id);
      if (i === -1) return [...prev, { movie, rating }];
      const next = prev.slice();
      next[i] = { movie, rating };
      return next;
    });
  }, []);
  const remove = useCallback((movieId: number) => {
    setRated((prev) => prev.filter((r) => r.movie.movie_id !== movieId));
  }, []);
  const clear = useCallback(() => setRated([]), []);
  const ratings = useMemo(() => new Map(rated.map((r) => [r.movie.movie_id, r.rating])), [rated]);
  const ratingOf = useCallback((movieId: number) => ratings.get(movieId) ?? 0, [ratings]);

  return { rated, rate, remove, clear, ratingOf };
}
