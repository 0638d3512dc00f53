import type { ReactNode } from "react";
import { ErrorBox } from "./ErrorBox";

interface ResultsPanelProps {
  title: string;
  subtitle?: string;
  /** `model_version` of the response shown, if any. */
  modelVersion?: string | null;
  loading?: boolean;
  error?: unknown;
  onRetry?: () => void;
  /** True when there is already content to show (kept, dimmed, while reloading). */
  hasContent?: boolean;
  children?: ReactNode;
}

/** A card around one list: heading, model version, loading and error states. */
export function ResultsPanel({
  title,
  subtitle,
  modelVersion,
  loading = false,
  error,
  onRetry,
  hasContent = false,
  children,
}: ResultsPanelProps) {
  return (
    <section
      aria-busy={loading}
      className="flex min-w-0 flex-col rounded-xl border border-slate-200 bg-white p-4 shadow-sm"
    >
      <header className="mb-2 flex items-start justify-between gap-3">
        <div className="min-w-0 flex-1">
          <h3 className="font-semibold text-slate-900">{title}</h3>
          {subtitle ? <p className="text-xs text-slate-500">{subtitle}</p> : null}
        </div>
        <div className="flex shrink-0 flex-col items-end gap-1 text-xs">
          {loading ? (
            <span className="flex items-center gap-1.5 text-slate-500" role="status">
              <span className="h-3 w-3 animate-spin rounded-full border-2 border-slate-300 border-t-indigo-500" />
              Loading…
            </span>
          ) : null}
          {modelVersion ? (
            <span
              className="whitespace-nowrap rounded-full bg-slate-100 px-2 py-0.5 font-medium text-slate-600"
              title="Model version that answered"
            >
              model v{modelVersion}
            </span>
          ) : null}
        </div>
      </header>
      {error ? (
        <ErrorBox error={error} onRetry={onRetry} />
      ) : loading && !hasContent ? (
        <Skeleton />
      ) : (
        <div className={loading ? "opacity-50 transition-opacity" : "transition-opacity"}>
          {children}
        </div>
      )}
    </section>
  );
}

function Skeleton() {
  return (
    <ul className="animate-pulse space-y-3 py-1" aria-hidden="true">
      {Array.from({ length: 6 }, (_, i) => (
        <li key={i} className="flex gap-3">
          <span className="h-4 w-6 rounded bg-slate-100" />
          <span className="flex-1 space-y-1.5">
            <span className="block h-4 w-3/4 rounded bg-slate-200" />
            <span className="block h-3 w-1/3 rounded bg-slate-100" />
          </span>
        </li>
      ))}
    </ul>
  );
}
