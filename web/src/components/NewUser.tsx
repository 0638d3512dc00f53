"use client";

import type { MovieFilters } from "@/lib/api";
import type { ServedMethods } from "@/lib/useMethods";
import { useStoredRatings } from "@/lib/useStoredRatings";
import { MovieSearch } from "./MovieSearch";
import { NewUserRecommendations } from "./NewUserRecommendations";
import { RatedList } from "./RatedList";

/** A new user: search and rate movies (kept in this browser), and see each served method's picks for them. */
export function NewUser({ methods, filters = {} }: { methods: ServedMethods; filters?: MovieFilters }) {
  const { rated, rate, remove, clear, ratingOf } = useStoredRatings();
  return (
    <div className="space-y-5">
      <div className="grid gap-4 md:grid-cols-2">
        <MovieSearch ratingOf={ratingOf} onRate={rate} />
        <RatedList rated={rated} onRate={rate} onRemove={remove} onClear={clear} />
      </div>
      <NewUserRecommendations methods={methods} rated={rated} filters={filters} />
    </div>
  );
}
