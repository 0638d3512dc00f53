"use client";

import type { Method, RecommendResponse } from "@/lib/api";
import type { AsyncState } from "@/lib/hooks";
import { ResultsList } from "./ResultsList";
import { ResultsPanel } from "./ResultsPanel";

// The service's own labels (GET /methods; movierec.methods.<name>: label, description), shortened.
const METHODS: Record<string, { title: string; subtitle: string }> = {
  embedding: { title: "Embedding blend", subtitle: "Taste vectors blended with an item-item model" },
  user_user: { title: "User-user", subtitle: "From people with similar ratings" },
};

interface MethodResultsProps {
  method: Method;
  request: AsyncState<RecommendResponse>;
  /** A newer request is about to start (e.g. ratings still being typed). */
  pending?: boolean;
  emptyMessage: string;
}

/** One method's recommendations in its panel: version, loading, errors with retry, the list. */
export function MethodResults({ method, request, pending = false, emptyMessage }: MethodResultsProps) {
  const { title, subtitle } = METHODS[method] ?? { title: method, subtitle: "" };
  return (
    <ResultsPanel
      title={title}
      subtitle={subtitle}
      modelVersion={request.data?.model_version}
      loading={request.loading || pending}
      error={request.error}
      onRetry={request.retry}
      hasContent={request.data !== null}
    >
      <ResultsList items={request.data?.recommendations ?? []} note={request.data?.note} emptyMessage={emptyMessage} />
    </ResultsPanel>
  );
}
