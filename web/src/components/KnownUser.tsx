"use client";

import { useEffect, useState, type FormEvent } from "react";
import { ApiError, filtersKey, getRecommendations, getUserTopRated, type MovieFilters } from "@/lib/api";
import { useAsync, useAsyncEach } from "@/lib/hooks";
import type { ServedMethods } from "@/lib/useMethods";
import { ErrorBox } from "./ErrorBox";
import { MethodResults, MethodsPending } from "./MethodResults";
import { ResultsList } from "./ResultsList";
import { ResultsPanel } from "./ResultsPanel";

const EXAMPLE_USERS = [1, 42, 100, 300, 500];
const K = 10;

function parseUserId(text: string): number | null {
  const t = text.trim();
  if (!/^\d+$/.test(t)) return null;
  const n = Number(t);
  return n >= 1 && Number.isSafeInteger(n) ? n : null;
}

function saysUnknownUser(r: { error: unknown }): boolean {
  return r.error instanceof ApiError && r.error.status === 404 && Boolean(r.error.serverMessage);
}

/** A known user: their own top-rated movies and one panel per served method (`GET /methods`). */
export function KnownUser({ methods, filters = {} }: { methods: ServedMethods; filters?: MovieFilters }) {
  const [input, setInput] = useState("");
  const [inputError, setInputError] = useState<string | null>(null);
  const [userId, setUserId] = useState<number | null>(null);

  // Open straight on a user when the address says ?user=42.
  useEffect(() => {
    const fromUrl = parseUserId(new URLSearchParams(window.location.search).get("user") ?? "");
    if (fromUrl !== null) {
      setInput(String(fromUrl));
      setUserId(fromUrl);
    }
  }, []);

  const key = userId === null ? null : String(userId);
  // The recommendations follow the filters too; the user's own top-rated list does not.
  const recKey = key === null ? null : `${key} ${filtersKey(filters)}`;
  const served = methods.data?.methods ?? [];
  const recommendations = useAsyncEach(
    served.map((m) => m.name),
    recKey,
    (name, s) => getRecommendations(served.find((m) => m.name === name) ?? name, userId!, K, filters, s),
    { keepPrevious: true },
  );
  const topRated = useAsync(key, (s) => getUserTopRated(userId!, K, s));

  // An unknown user gets the same 404 from every list (e.g. "unknown user 99999"): say it once, from
  // the first answer on, while the others are still on their way (not once per list meanwhile).
  const requests = [...Object.values(recommendations), topRated];
  const firstUnknown = requests.find(saysUnknownUser);
  const unknownUser =
    firstUnknown && requests.every((r) => saysUnknownUser(r) || (r.loading && !r.error))
      ? (firstUnknown.error as ApiError)
      : null;

  function show(id: number) {
    setInput(String(id));
    setInputError(null);
    setUserId(id);
    const url = new URL(window.location.href);
    url.searchParams.set("user", String(id));
    window.history.replaceState(null, "", url);
  }

  function onSubmit(e: FormEvent) {
    e.preventDefault();
    const id = parseUserId(input);
    if (id === null) {
      setInputError("Enter a user id: a whole number, 1 or more.");
      return;
    }
    show(id);
  }

  return (
    <div className="space-y-5">
      <form
        onSubmit={onSubmit}
        noValidate
        className="rounded-xl border border-slate-200 bg-white p-4 shadow-sm"
      >
        <label htmlFor="user-id" className="block text-sm font-medium text-slate-700">
          MovieLens user id
        </label>
        <div className="mt-1.5 flex gap-2">
          <input
            id="user-id"
            type="text"
            inputMode="numeric"
            autoComplete="off"
            placeholder="e.g. 42"
            value={input}
            onChange={(e) => setInput(e.target.value)}
            aria-invalid={inputError ? true : undefined}
            aria-describedby={inputError ? "user-id-error" : undefined}
            className="w-full min-w-0 max-w-[12rem] rounded-md border border-slate-300 px-3 py-2 text-base focus:border-indigo-500 focus:outline-none focus:ring-2 focus:ring-indigo-500/40"
          />
          <button
            type="submit"
            className="rounded-md bg-indigo-600 px-4 py-2 font-medium text-white hover:bg-indigo-700 focus:outline-none focus-visible:ring-2 focus-visible:ring-indigo-500 focus-visible:ring-offset-2"
          >
            Recommend
          </button>
        </div>
        {inputError ? (
          <p id="user-id-error" className="mt-1.5 text-sm text-rose-700">
            {inputError}
          </p>
        ) : null}
        <div className="mt-3 flex flex-wrap items-center gap-1.5 text-sm text-slate-500">
          <span>Or pick one:</span>
          {EXAMPLE_USERS.map((id) => (
            <button
              key={id}
              type="button"
              onClick={() => show(id)}
              aria-pressed={userId === id}
              className={`rounded-full border px-2.5 py-0.5 tabular-nums focus:outline-none focus-visible:ring-2 focus-visible:ring-indigo-500 ${
                userId === id
                  ? "border-indigo-600 bg-indigo-600 text-white"
                  : "border-slate-300 bg-white text-slate-700 hover:border-indigo-400"
              }`}
            >
              user {id}
            </button>
          ))}
        </div>
      </form>

      {userId === null ? (
        <p className="rounded-xl border border-dashed border-slate-300 px-4 py-8 text-center text-slate-500">
          Enter a user id to compare what each recommender suggests for them.
        </p>
      ) : unknownUser ? (
        <ErrorBox error={unknownUser} />
      ) : (
        <div className="grid gap-4 md:grid-cols-2 lg:grid-cols-3">
          {/* Context first on wide screens; after the recommendations on narrow ones. */}
          <div className="order-last md:col-span-2 lg:order-none lg:col-span-1">
            <ResultsPanel
              title={`What user ${userId} rated highest`}
              subtitle="Their own ratings, for context"
              loading={topRated.loading}
              error={topRated.error}
              onRetry={topRated.retry}
            >
              <ResultsList
                items={topRated.data?.movies ?? []}
                emptyMessage="This user has no ratings to show."
              />
            </ResultsPanel>
          </div>
          {methods.data ? (
            served.map((method) => (
              <MethodResults
                key={method.name}
                method={method}
                request={recommendations[method.name]}
                emptyMessage="No recommendations for this user."
              />
            ))
          ) : (
            <MethodsPending methods={methods} />
          )}
        </div>
      )}
    </div>
  );
}
