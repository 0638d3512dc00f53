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
