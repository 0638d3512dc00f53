"use client";

import { filtersKey, postRecommendations, type MethodInfo, type MovieFilters, type RatingInput, type RecommendResponse } from "./api";
import { useAsyncEach, useDebounced, type AsyncState } from "./hooks";

export interface NewUserRecommendations {
  /** Each method's answer, by method name. */
  results: Record<string, AsyncState<RecommendResponse>>;
  /** The ratings changed and the requests for them have not started yet. */
  pending: boolean;
  /** Rated movies the model does not know (left out by the service). */
  ignoredIds: Set<number>;
}

/**
 * Every given method's recommendations for a new user's ratings (POST), `delayMs` after the last
 * change of the ratings, and again when the filters change. No ratings: no requests.
 */
export function useNewUserRecommendations(
  methods: readonly Pick<MethodInfo, "name" | "path">[],
  ratings: RatingInput[],
  filters: MovieFilters = {},
  { k = 10, delayMs = 500 }: { k?: number; delayMs?: number } = {},
): NewUserRecommendations {
  // The request body's ratings as a string, so it can key the requests.
  const currentKey = ratings.length
    ? JSON.stringify(ratings.map(({ movie_id, rating }) => ({ movie_id, rating })))
    : null;
  const ratingsKey = useDebounced(currentKey, delayMs);
  const requestKey = ratingsKey === null ? null : `${ratingsKey} ${k} ${filtersKey(filters)}`;
  const results = useAsyncEach(
    methods.map((m) => m.name),
    requestKey,
    (name, signal) =>
      postRecommendations(methods.find((m) => m.name === name) ?? name, JSON.parse(ratingsKey!) as RatingInput[], k, filters, signal),
    { keepPrevious: true },
  );

  const ignoredIds = new Set(Object.values(results).flatMap((r) => r.data?.ignored_movie_ids ?? []));
  return { results, pending: currentKey !== ratingsKey, ignoredIds };
}
