"use client";

import { useEffect, useRef, useState } from "react";
import { isAbortError } from "./api";

export interface AsyncState<T> {
  data: T | null;
  error: unknown;
  loading: boolean;
  retry: () => void;
}

/**
 * Runs `load` whenever `key` changes (null = do nothing and clear). A newer call
 * aborts the older one, so a slow answer never overwrites a fresher one.
 * With `keepPrevious`, the last data stays visible while the next one loads.
 */
export function useAsync<T>(
  key: string | null,
  load: (signal: AbortSignal) => Promise<T>,
  { keepPrevious = false }: { keepPrevious?: boolean } = {},
): AsyncState<T> {
  const [data, setData] = useState<T | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [loading, setLoading] = useState(false);
  const [attempt, setAttempt] = useState(0);
  const loadRef = useRef(load);
  loadRef.current = load;

  useEffect(() => {
    setError(null);
    if (key === null) {
      setData(null);
      setLoading(false);
      return;
    }
    if (!keepPrevious) setData(null);
    setLoading(true);
    const ctrl = new AbortController();
    loadRef.current(ctrl.signal).then(
      (result) => {
        if (ctrl.signal.aborted) return;
        setData(result);
        setLoading(false);
      },
      (err) => {
        if (ctrl.signal.aborted || isAbortError(err)) return;
        setData(null);
        setError(err);
        setLoading(false);
      },
    );
    return () => ctrl.abort();
  }, [key, attempt, keepPrevious]);

  return { data, error, loading, retry: () => setAttempt((a) => a + 1) };
}

/** `value`, but only after it has stopped changing for `ms` milliseconds. */
export function useDebounced<T>(value: T, ms: number): T {
  const [debounced, setDebounced] = useState(value);
  useEffect(() => {
    const t = setTimeout(() => setDebounced(value), ms);
    return () => clearTimeout(t);
  }, [value, ms]);
  return debounced;
}

interface Slot<T> {
  data: T | null;
  error: unknown;
  loading: boolean;
}
const IDLE: Slot<never> = { data: null, error: null, loading: false };

/**
 * {@link useAsync} for a list of `names` that is known only at run time (e.g. the served methods):
 * `load(name, signal)` runs for each name whenever `key` changes (null = do nothing and clear), and
 * for a name that appears. Each name has its own state and `retry`; a newer call for a name aborts
 * its older one, and a name that leaves the list is aborted and forgotten.
 */
export function useAsyncEach<T>(
  names: readonly string[],
  key: string | null,
  load: (name: string, signal: AbortSignal) => Promise<T>,
  { keepPrevious = false }: { keepPrevious?: boolean } = {},
): Record<string, AsyncState<T>> {
  const [slots, setSlots] = useState<Record<string, Slot<T>>>({});
  const [attempts, setAttempts] = useState<Record<string, number>>({});
  const loadRef = useRef(load);
  loadRef.current = load;
  // What each name's current request is for (key and attempt), and how to abort it.
  const started = useRef(new Map<string, { tag: string; ctrl: AbortController }>());
  const namesKey = JSON.stringify(names);

  useEffect(() => {
    const wanted: string[] = JSON.parse(namesKey);
    const update = (name: string, next: (old: Slot<T>) => Slot<T>) =>
      setSlots((all) => ({ ...all, [name]: next(all[name] ?? IDLE) }));
    for (const [name, run] of started.current) {
      if (wanted.includes(name)) continue;
      run.ctrl.abort();
      started.current.delete(name);
      setSlots(({ [name]: _gone, ...rest }) => rest);
    }
    for (const name of wanted) {
      const tag = JSON.stringify([key, attempts[name] ?? 0]);
      const before = started.current.get(name);
      if (before?.tag === tag) continue;
      before?.ctrl.abort();
      const ctrl = new AbortController();
      started.current.set(name, { tag, ctrl });
      if (key === null) {
        update(name, () => IDLE);
        continue;
      }
      update(name, (old) => ({ data: keepPrevious ? old.data : null, error: null, loading: true }));
      loadRef.current(name, ctrl.signal).then(
        (result) => {
          if (!ctrl.signal.aborted) update(name, () => ({ data: result, error: null, loading: false }));
        },
        (err) => {
          if (!ctrl.signal.aborted && !isAbortError(err)) update(name, () => ({ data: null, error: err, loading: false }));
        },
      );
    }
  }, [key, namesKey, attempts, keepPrevious]);

  // Unmounted: abort everything (and start afresh if mounted again, as React's strict mode does).
  useEffect(
    () => () => {
      for (const run of started.current.values()) run.ctrl.abort();
      started.current.clear();
    },
    [],
  );

  return Object.fromEntries(
    names.map((name) => [
      name,
      { ...(slots[name] ?? IDLE), retry: () => setAttempts((a) => ({ ...a, [name]: (a[name] ?? 0) + 1 })) },
    ]),
  );
}
