"use client";

import { useRef, useState, type KeyboardEvent } from "react";
import { FilterBar } from "@/components/FilterBar";
import { HealthBadge } from "@/components/HealthBadge";
import { KnownUser } from "@/components/KnownUser";
import { NewUser } from "@/components/NewUser";
import { getFilterOptions, type MovieFilters } from "@/lib/api";
import { useAsync, useDebounced } from "@/lib/hooks";
import { useMethods } from "@/lib/useMethods";

const TABS = [
  { id: "known", label: "Known user", hint: "See what each method suggests for a MovieLens user" },
  { id: "new", label: "New user", hint: "Rate a few movies and get suggestions for your taste" },
] as const;
type TabId = (typeof TABS)[number]["id"];

export default function Home() {
  const [tab, setTab] = useState<TabId>("known");
  const tabRefs = useRef<Record<string, HTMLButtonElement | null>>({});
  const [filters, setFilters] = useState<MovieFilters>({});
  // Requests follow the filters 300 ms after the last change (typing a year sends one request).
  const appliedFilters = useDebounced(filters, 300);
  const filterOptions = useAsync("filters", getFilterOptions);
  const methods = useMethods(); // one panel per served method, in both tabs

  // Arrow keys move between tabs (WAI-ARIA tabs pattern).
  function onTabKey(e: KeyboardEvent<HTMLButtonElement>) {
    if (e.key !== "ArrowLeft" && e.key !== "ArrowRight") return;
    e.preventDefault();
    const i = TABS.findIndex((t) => t.id === tab);
    const next = TABS[(i + (e.key === "ArrowRight" ? 1 : TABS.length - 1)) % TABS.length].id;
    setTab(next);
    tabRefs.current[next]?.focus();
  }

  return (
    <>
      <header className="border-b border-slate-200 bg-white">
        <div className="mx-auto flex max-w-6xl flex-wrap items-center justify-between gap-3 px-4 py-4">
          <div>
            <h1 className="text-xl font-bold tracking-tight text-slate-900 sm:text-2xl">
              Movie recommendations
            </h1>
            <p className="text-sm text-slate-500">
              MovieLens recommenders side by side: every method the service serves.
            </p>
          </div>
          <HealthBadge />
        </div>
      </header>

      <main className="mx-auto max-w-6xl px-4 py-5">
        <div role="tablist" aria-label="Who to recommend for" className="mb-1 flex gap-1 rounded-lg bg-slate-200/70 p-1 sm:inline-flex">
          {TABS.map((t) => (
            <button
              key={t.id}
              id={`tab-${t.id}`}
              ref={(el) => {
                tabRefs.current[t.id] = el;
              }}
              role="tab"
              type="button"
              aria-selected={tab === t.id}
              aria-controls={`panel-${t.id}`}
              tabIndex={tab === t.id ? 0 : -1}
              onClick={() => setTab(t.id)}
              onKeyDown={onTabKey}
              className={`flex-1 rounded-md px-4 py-1.5 text-sm font-medium focus:outline-none focus-visible:ring-2 focus-visible:ring-indigo-500 sm:flex-none ${
                tab === t.id ? "bg-white text-slate-900 shadow-sm" : "text-slate-600 hover:text-slate-900"
              }`}
            >
              {t.label}
            </button>
          ))}
        </div>
        <p className="mb-4 text-sm text-slate-500">{TABS.find((t) => t.id === tab)?.hint}</p>

        <div className="mb-4">
          <FilterBar options={filterOptions.data} value={filters} onChange={setFilters} />
        </div>

        {/* Both stay mounted so switching tabs keeps what was typed and rated. */}
        <div id="panel-known" role="tabpanel" aria-labelledby="tab-known" hidden={tab !== "known"}>
          <KnownUser methods={methods} filters={appliedFilters} />
        </div>
        <div id="panel-new" role="tabpanel" aria-labelledby="tab-new" hidden={tab !== "new"}>
          <NewUser methods={methods} filters={appliedFilters} />
        </div>
      </main>

      <footer className="mx-auto max-w-6xl px-4 pb-8 pt-2 text-xs text-slate-400">
        Data: MovieLens, by GroupLens Research. Predicted ratings are on a 0.5–5 star scale.
      </footer>
    </>
  );
}
