import { ApiError } from "@/lib/api";

export interface ErrorDescription {
  title: string;
  detail: string;
}

/** Turns any thrown error into a short, human message (never a stack trace). */
export function describeError(err: unknown): ErrorDescription {
  if (err instanceof ApiError) {
    const server = err.serverMessage;
    switch (true) {
      case err.status === 0:
        return {
          title: "Can't reach the service",
          detail: "Check your connection, then try again.",
        };
      case err.status === 404:
        return server
          ? { title: "Not found", detail: server }
          : {
              title: "Not found",
              detail: "The recommendation API did not answer at this address.",
            };
      case err.status === 503:
        return {
          title: "Service unavailable",
          detail:
            "The recommender is starting up or has no model loaded. Please try again in a moment.",
        };
      case err.status === 413:
        return {
          title: "Too much at once",
          detail: server ?? "That request was too large. Try fewer ratings.",
        };
      case err.status === 400:
        return {
          title: "The service couldn't use that request",
          detail: server ?? "Please check what you entered.",
        };
      case err.status >= 500:
        return {
          title: "Something went wrong on the server",
          detail: "Please try again in a moment.",
        };
      default:
        return {
          title: "Request failed",
          detail: server ?? `The service answered with status ${err.status}.`,
        };
    }
  }
  return { title: "Something went wrong", detail: "Please try again." };
}

interface ErrorBoxProps {
  error: unknown;
  onRetry?: () => void;
}

/** Worth trying again? Not for answers that will not change (400, 404, 413). */
export function isRetryable(err: unknown): boolean {
  return !(err instanceof ApiError) || err.status === 0 || err.status >= 500;
}

export function ErrorBox({ error, onRetry }: ErrorBoxProps) {
  const { title, detail } = describeError(error);
  return (
    <div role="alert" className="rounded-lg border border-rose-200 bg-rose-50 px-4 py-3 text-sm">
      <p className="font-semibold text-rose-800">{title}</p>
      <p className="mt-0.5 text-rose-700">{detail}</p>
      {onRetry && isRetryable(error) ? (
        <button
          type="button"
          onClick={onRetry}
          className="mt-2 rounded-md border border-rose-300 bg-white px-3 py-1 font-medium text-rose-700 hover:bg-rose-100 focus:outline-none focus-visible:ring-2 focus-visible:ring-rose-500"
        >
          Try again
        </button>
      ) : null}
    </div>
  );
}
