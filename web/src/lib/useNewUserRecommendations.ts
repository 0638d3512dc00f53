"use client";

import { filtersKey, postRecommendations, type Method, type MovieFilters, type RatingInput, type RecommendResponse } from "./api";
import { useAsync, useDebounced, type AsyncState } from "./hooks";

export interface NewUserRecommendations {
  embedding: AsyncState<RecommendResponse>;
  userUser: AsyncState<RecommendResponse>;
  /** The ratings changed and the requests for them have not started yet. */
  pending: boolean;
  /** Rated movies the model does not know (left out by the service). */
  ignoredIds: Set<number>;
}

/**
 * Both methods' recommendations for a new user's ratings (POST), `delayMs` after the last change of
 * the ratings, and again when the filters change. No ratings: no requests.
 */
export function useNewUserRecommendations(
  ratings: RatingInput[],
  filters: MovieFilters = {},
  { k = 10, delayMs = 500 }: { k?: number; delayMs?: number } = {},
): NewUserRecommendations {
  // The request body's ratings as a string, so it can key the requests.
  const currentKey = ratings.length
    ? JSON.stringify(ratings.map(({ movie_id, rating }) => ({ movie_id, rating })))
    : null;
  const ratingsKey = useDebounced(currentKey, delayMs);
  const load = (method: Method) => (signal: AbortSignal) =>
    postRecommendations(method, JSON.parse(ratingsKey!) as RatingInput[], k, filters, signal);
  const requestKey = ratingsKey === null ? null : `${ratingsKey} ${k} ${filtersKey(filters)}`;
  const embedding = useAsync(requestKey, load("embedding"), { keepPrevious: true });
  const userUser = useAsync(requestKey, load("user_user"), { keepPrevious: true });

  const ignoredIds = new Set([
    ...(embedding.data?.ignored_movie_ids ?? []),
    ...(userUser.data?.ignored_movie_ids ?? []),
  ]);
  return { embedding, userUser, pending: currentKey !== ratingsKey, ignoredIds };
}
