"use client";

import type { MethodInfo, RecommendResponse } from "@/lib/api";
import type { AsyncState } from "@/lib/hooks";
import type { ServedMethods } from "@/lib/useMethods";
import { ResultsList } from "./ResultsList";
import { ResultsPanel } from "./ResultsPanel";

interface MethodResultsProps {
  /** The service's entry for the method (`GET /methods`): its label titles the panel. */
  method: MethodInfo;
  request: AsyncState<RecommendResponse>;
  /** A newer request is about to start (e.g. ratings still being typed). */
  pending?: boolean;
  emptyMessage: string;
}

/** One method's recommendations in its panel: version, loading, errors with retry, the list. */
export function MethodResults({ method, request, pending = false, emptyMessage }: MethodResultsProps) {
  return (
    <ResultsPanel
      title={method.label}
      subtitle={method.description}
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

/** In place of the method panels until the served methods are known: loading, or the error with retry. */
export function MethodsPending({ methods }: { methods: ServedMethods }) {
  return (
    <ResultsPanel
      title="Recommendations"
      subtitle="The served model's methods"
      loading={methods.loading}
      error={methods.error}
      onRetry={methods.retry}
    />
  );
}
