"use client";

import type { MovieFilters } from "@/lib/api";
import type { ServedMethods } from "@/lib/useMethods";
import { useNewUserRecommendations } from "@/lib/useNewUserRecommendations";
import type { Rated } from "@/lib/useStoredRatings";
import { MethodResults, MethodsPending } from "./MethodResults";

const EMPTY = "No recommendations yet.";

/** Every served method's recommendations for the ratings so far, and which rated movies the model skipped. */
export function NewUserRecommendations({
  methods,
  rated,
  filters = {},
}: {
  methods: ServedMethods;
  rated: Rated[];
  filters?: MovieFilters;
}) {
  const served = methods.data?.methods ?? [];
  const ratings = rated.map((r) => ({ movie_id: r.movie.movie_id, rating: r.rating }));
  const { results, pending, ignoredIds } = useNewUserRecommendations(served, ratings, filters);
  const ignoredTitles = rated.filter((r) => ignoredIds.has(r.movie.movie_id)).map((r) => r.movie.title);

  return (
    <>
      {ignoredTitles.length > 0 ? (
        <p className="rounded-lg border border-sky-200 bg-sky-50 px-4 py-3 text-sm text-sky-800" role="status">
          The model doesn&apos;t know {ignoredTitles.length === 1 ? "one of your movies" : `${ignoredTitles.length} of your movies`}{" "}
          yet, so {ignoredTitles.length === 1 ? "it was" : "they were"} left out: {ignoredTitles.join(", ")}.
        </p>
      ) : null}

      {rated.length === 0 ? null : (
        <div className={`grid gap-4 md:grid-cols-2 ${served.length > 2 ? "lg:grid-cols-3" : ""}`}>
          {methods.data ? (
            served.map((method) => (
              <MethodResults key={method.name} method={method} request={results[method.name]} pending={pending} emptyMessage={EMPTY} />
            ))
          ) : (
            <MethodsPending methods={methods} />
          )}
        </div>
      )}
    </>
  );
}
