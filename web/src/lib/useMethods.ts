"use client";

import { getMethods, type MethodsResponse } from "./api";
import { useAsync, type AsyncState } from "./hooks";

/** The served model's methods as the page holds them (`GET /methods`; retry when it failed). */
export type ServedMethods = AsyncState<MethodsResponse>;

/**
 * The served model's methods, asked once: the page shows one panel per method, titled and described
 * by the service, so a method added to the model appears with no change here.
 */
export function useMethods(): ServedMethods {
  return useAsync("methods", getMethods);
}
