"use client";

import { getHealth } from "@/lib/api";
import { useAsync } from "@/lib/hooks";

/** Which model the service has loaded, or that it is unavailable. */
export function HealthBadge() {
  const health = useAsync("health", getHealth);

  let dot = "bg-slate-300";
  let text = "Checking service…";
  let title: string | undefined;
  if (health.data && health.data.status === "ok") {
    dot = "bg-emerald-500";
    text = `${health.data.model_name ?? "model"} v${health.data.model_version ?? "?"}`;
    title = health.data.run_id ? `MLflow run ${health.data.run_id}` : undefined;
  } else if (health.error || health.data) {
    dot = "bg-rose-500";
    text = "Service unavailable";
  }

  return (
    <div
      role="status"
      title={title}
      className="flex items-center gap-2 rounded-full border border-slate-200 bg-white px-3 py-1 text-sm text-slate-600"
    >
      <span className={`h-2 w-2 rounded-full ${dot}`} aria-hidden="true" />
      {text}
      {health.error ? (
        <button
          type="button"
          onClick={health.retry}
          className="ml-1 rounded text-indigo-600 underline-offset-2 hover:underline focus:outline-none focus-visible:ring-2 focus-visible:ring-indigo-500"
        >
          retry
        </button>
      ) : null}
    </div>
  );
}
