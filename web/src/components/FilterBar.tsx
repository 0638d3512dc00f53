"use client";

import { useState } from "react";
import { activeFilters, type FilterOptions, type MovieFilters } from "@/lib/api";

/** Popularity floors offered: at least this many ratings (0 = any). */
export const MIN_RATINGS_CHOICES = [0, 10, 50, 100, 250];

type GenreState = "off" | "only" | "hidden";
const NEXT_STATE: Record<GenreState, GenreState> = { off: "only", only: "hidden", hidden: "off" };

interface FilterBarProps {
  /** Genres and year range from `/filters`; null while loading or when unavailable. */
  options: FilterOptions | null;
  value: MovieFilters;
  /** Called with valid filters only (an unfinished year range is held back and explained). */
  onChange: (next: MovieFilters) => void;
}

/** "" → null; a whole number → it; anything else → undefined (invalid). */
function parseYear(text: string): number | null | undefined {
  const t = text.trim();
  if (t === "") return null;
  return /^\d{1,4}$/.test(t) ? Number(t) : undefined;
}

function yearError(from: string, to: string): string | null {
  const a = parseYear(from);
  const b = parseYear(to);
  if (a === undefined || b === undefined) return "Years are whole numbers, e.g. 1995.";
  if (a !== null && b !== null && a > b) return "The first year must not be after the second.";
  return null;
}

/** Genre chips (click: only these → hide these → off), a year range and a popularity floor. */
export function FilterBar({ options, value, onChange }: FilterBarProps) {
  const [yearFrom, setYearFrom] = useState(value.year_min != null ? String(value.year_min) : "");
  const [yearTo, setYearTo] = useState(value.year_max != null ? String(value.year_max) : "");
  const error = yearError(yearFrom, yearTo);
  const nActive = Object.keys(activeFilters(value)).length;

  function genreState(name: string): GenreState {
    if (value.genres?.includes(name)) return "only";
    if (value.exclude_genres?.includes(name)) return "hidden";
    return "off";
  }

  function cycleGenre(name: string) {
    const next = NEXT_STATE[genreState(name)];
    const genres = (value.genres ?? []).filter((g) => g !== name);
    const exclude = (value.exclude_genres ?? []).filter((g) => g !== name);
    if (next === "only") genres.push(name);
    if (next === "hidden") exclude.push(name);
    onChange({ ...value, genres, exclude_genres: exclude });
  }

  function changeYears(from: string, to: string) {
    setYearFrom(from);
    setYearTo(to);
    if (yearError(from, to) === null) {
      onChange({ ...value, year_min: parseYear(from) ?? null, year_max: parseYear(to) ?? null });
    }
  }

  function clear() {
    setYearFrom("");
    setYearTo("");
    onChange({});
  }

  const inputClass =
    "w-20 rounded-md border border-slate-300 px-2 py-1 text-sm tabular-nums focus:border-indigo-500 focus:outline-none focus:ring-2 focus:ring-indigo-500/40";

  return (
    <section aria-label="Filters" className="rounded-xl border border-slate-200 bg-white px-4 py-3 shadow-sm">
      <div className="flex items-baseline justify-between gap-2">
        <h2 className="text-sm font-semibold text-slate-900">
          Filters{" "}
          <span className="font-normal text-slate-500">
            {nActive ? `(${nActive} active, every method)` : "(apply to every method)"}
          </span>
        </h2>
        {nActive > 0 || yearFrom || yearTo ? (
          <button
            type="button"
            onClick={clear}
            className="rounded text-sm text-slate-500 underline-offset-2 hover:text-rose-700 hover:underline focus:outline-none focus-visible:ring-2 focus-visible:ring-indigo-500"
          >
            Clear filters
          </button>
        ) : null}
      </div>

      {options && options.genres.length > 0 ? (
        <div className="mt-2">
          <ul className="flex flex-wrap gap-1.5" aria-label="Genres">
            {options.genres.map(({ name, n_movies }) => {
              const state = genreState(name);
              return (
                <li key={name}>
                  <button
                    type="button"
                    onClick={() => cycleGenre(name)}
                    aria-label={state === "off" ? name : `${name} (${state === "only" ? "only these" : "hidden"})`}
                    title={`${n_movies.toLocaleString("en-US")} movies. Click: only these genres, again: hide, again: off`}
                    className={`rounded-full border px-2.5 py-0.5 text-xs focus:outline-none focus-visible:ring-2 focus-visible:ring-indigo-500 ${
                      state === "only"
                        ? "border-indigo-600 bg-indigo-600 text-white"
                        : state === "hidden"
                          ? "border-rose-300 bg-rose-50 text-rose-700 line-through"
                          : "border-slate-300 bg-white text-slate-700 hover:border-indigo-400"
                    }`}
                  >
                    {state === "only" ? "✓ " : state === "hidden" ? "− " : ""}
                    {name}
                  </button>
                </li>
              );
            })}
          </ul>
          <p className="mt-1 text-xs text-slate-500">
            Click a genre to show only it (any of the chosen ones); click again to hide it.
          </p>
        </div>
      ) : options === null ? null : (
        <p className="mt-2 text-xs text-slate-500">No genres to filter by.</p>
      )}

      <div className="mt-2 flex flex-wrap items-center gap-x-5 gap-y-2 text-sm text-slate-700">
        <fieldset className="flex items-center gap-1.5">
          <legend className="sr-only">Release year</legend>
          <label htmlFor="year-min">Years</label>
          <input
            id="year-min"
            type="text"
            inputMode="numeric"
            aria-label="From year"
            placeholder={options?.year_min != null ? String(options.year_min) : "from"}
            value={yearFrom}
            onChange={(e) => changeYears(e.target.value, yearTo)}
            aria-invalid={error ? true : undefined}
            aria-describedby={error ? "year-error" : undefined}
            className={inputClass}
          />
          <span aria-hidden="true">–</span>
          <input
            id="year-max"
            type="text"
            inputMode="numeric"
            aria-label="To year"
            placeholder={options?.year_max != null ? String(options.year_max) : "to"}
            value={yearTo}
            onChange={(e) => changeYears(yearFrom, e.target.value)}
            aria-invalid={error ? true : undefined}
            aria-describedby={error ? "year-error" : undefined}
            className={inputClass}
          />
        </fieldset>
        <label className="flex items-center gap-1.5">
          Popularity
          <select
            value={value.min_ratings ?? 0}
            onChange={(e) => onChange({ ...value, min_ratings: Number(e.target.value) })}
            className="rounded-md border border-slate-300 bg-white px-2 py-1 text-sm focus:border-indigo-500 focus:outline-none focus:ring-2 focus:ring-indigo-500/40"
          >
            {MIN_RATINGS_CHOICES.map((n) => (
              <option key={n} value={n}>
                {n === 0 ? "any" : `${n}+ ratings`}
              </option>
            ))}
          </select>
        </label>
      </div>
      {error ? (
        <p id="year-error" className="mt-1 text-sm text-rose-700">
          {error}
        </p>
      ) : null}
    </section>
  );
}
