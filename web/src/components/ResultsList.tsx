import { becauseText, type RatedMovie, type Recommendation } from "@/lib/api";

/**
 * One row: a recommendation (with the model's predicted rating and why), or one of a user's own
 * ratings (the top-rated context list, with their rating).
 */
export type MovieItem = Pick<Recommendation, "movie_id" | "title" | "year" | "genres"> &
  Partial<Pick<Recommendation, "predicted_rating" | "because"> & Pick<RatedMovie, "rating">>;

interface ResultsListProps {
  items: MovieItem[];
  /** Shown instead of the list when there is nothing to show. */
  emptyMessage?: string;
  /** The service's remark when fewer movies than asked for qualify (e.g. under filters). */
  note?: string | null;
}

/** "Toy Story (1995)" → "Toy Story" when the year is shown separately. */
export function displayTitle(title: string, year?: number | null): string {
  if (!year) return title;
  const suffix = ` (${year})`;
  return title.endsWith(suffix) ? title.slice(0, -suffix.length) : title;
}

/** "only 3 unrated movies match the filters" → "Only 3 unrated movies match the filters." */
function sentence(text: string): string {
  const t = text.trim();
  return t ? `${t[0].toUpperCase()}${t.slice(1)}${/[.!?]$/.test(t) ? "" : "."}` : t;
}

export function ResultsList({ items, emptyMessage = "Nothing to show yet.", note }: ResultsListProps) {
  if (items.length === 0) {
    return (
      <p className="rounded-lg border border-dashed border-slate-300 px-4 py-6 text-center text-sm text-slate-500">
        {note ? sentence(note) : emptyMessage}
      </p>
    );
  }

  return (
    <>
      {note ? (
        <p className="mb-1 rounded-md bg-sky-50 px-3 py-1.5 text-sm text-sky-800" role="status">
          {sentence(note)}
        </p>
      ) : null}
      <ol className="divide-y divide-slate-100">
        {items.map((m, i) => {
          const why = becauseText(m.because);
          const hasPredicted = typeof m.predicted_rating === "number";
          const hasRating = typeof m.rating === "number";
          return (
            <li key={m.movie_id} className="flex gap-3 py-2.5">
              <span className="mt-0.5 w-6 shrink-0 text-right text-sm tabular-nums text-slate-400">
                {i + 1}.
              </span>
              <div className="min-w-0 flex-1">
                <div className="flex items-baseline justify-between gap-2">
                  <p className="min-w-0 font-medium leading-snug text-slate-900">
                    {displayTitle(m.title, m.year)}
                    {m.year ? (
                      <span className="ml-1.5 text-sm font-normal text-slate-500">{m.year}</span>
                    ) : null}
                  </p>
                  {hasPredicted ? (
                    <span
                      className="shrink-0 rounded-full bg-amber-50 px-2 py-0.5 text-sm font-semibold tabular-nums text-amber-700"
                      title="Predicted rating"
                      aria-label={`Predicted rating ${m.predicted_rating!.toFixed(1)} out of 5`}
                    >
                      ★ {m.predicted_rating!.toFixed(1)}
                    </span>
                  ) : hasRating ? (
                    <span
                      className="shrink-0 rounded-full bg-indigo-50 px-2 py-0.5 text-sm font-semibold tabular-nums text-indigo-700"
                      title="Their rating"
                      aria-label={`Rated ${m.rating!.toFixed(1)} out of 5`}
                    >
                      ★ {m.rating!.toFixed(1)}
                    </span>
                  ) : null}
                </div>
                {m.genres && m.genres.length > 0 ? (
                  <ul className="mt-1 flex flex-wrap gap-1" aria-label="Genres">
                    {m.genres.map((g) => (
                      <li key={g} className="rounded bg-slate-100 px-1.5 py-0.5 text-xs text-slate-600">
                        {g}
                      </li>
                    ))}
                  </ul>
                ) : null}
                {why ? <p className="mt-1 text-sm italic text-slate-600">{why}</p> : null}
              </div>
            </li>
          );
        })}
      </ol>
    </>
  );
}
