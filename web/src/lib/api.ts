// Small client for the movierec Flask service. The page is served by that same
// service, so every URL is relative (same origin, no CORS).

import type { components, paths } from "./api-types";

// Every shape below comes from the service's OpenAPI document: `api-types.ts` is generated from
// `web/openapi.json` by openapi-typescript (`npm run gen:api`; pytest fails when either is stale).
type Schemas = components["schemas"];

/** The JSON body of a 200 answer to `method path`, as the spec declares it. */
type Ok<P extends keyof paths, M extends "get" | "post"> = paths[P][M] extends {
  responses: { 200: { content: { "application/json": infer T } } };
}
  ? T
  : never;
/** The query parameters of `GET path`, as the spec names them. */
type Query<P extends keyof paths> = paths[P]["get"] extends { parameters: { query?: infer Q } } ? NonNullable<Q> : never;

/** A method name of the served model (`GET /methods` lists them with labels). */
export type Method = Schemas["RecommendResponse"]["method"];
export type MethodsResponse = Ok<"/methods", "get">;
/** One served method: `name`, `label` (a panel's title), `description`, its own `path` if any, reason codes. */
export type MethodInfo = MethodsResponse["methods"][number];
/** Why a movie was recommended: a reason code and a line of text (see the spec for the codes). */
export type Because = Schemas["Because"];
export type Recommendation = Schemas["Recommendation"];
export type RecommendResponse = Ok<"/recommend", "get">;
export type RecommendRequest = Schemas["RecommendRequest"];
export type MoviesResponse = Ok<"/movies", "get">;
export type Movie = MoviesResponse["movies"][number];
export type TopRatedResponse = Ok<"/users/{user_id}/top-rated", "get">;
export type RatedMovie = TopRatedResponse["movies"][number];
export type FilterOptions = Ok<"/filters", "get">;
export type HealthResponse = Ok<"/health", "get">;
export type RatingInput = Schemas["Rating"];

const FILTER_NAMES = ["genres", "exclude_genres", "year_min", "year_max", "min_ratings"] as const;
type FilterName = (typeof FILTER_NAMES)[number];
/** The filter fields as the API takes them (GET query and POST body alike): only the set ones. */
export type ApiFilters = Pick<RecommendRequest, FilterName>;
/**
 * Filters as the page holds them: a field that is missing, null, an empty list or a
 * `min_ratings` of 0 means "no filter" (see {@link activeFilters}).
 */
export type MovieFilters = { [F in FilterName]?: ApiFilters[F] | null };

/**
 * A failed call. `status` is the HTTP status, or 0 when the request never got
 * an answer (network failure). `serverMessage` is the service's `{"error": ...}`
 * text when it sent one.
 */
export class ApiError extends Error {
  readonly status: number;
  readonly serverMessage: string | null;

  constructor(status: number, message: string, serverMessage: string | null = null) {
    super(message);
    this.name = "ApiError";
    this.status = status;
    this.serverMessage = serverMessage;
  }
}

export function isAbortError(err: unknown): boolean {
  // DOMException is not an Error subclass everywhere, so check the name only.
  return typeof err === "object" && err !== null && (err as { name?: unknown }).name === "AbortError";
}

async function request<T>(path: string, init: RequestInit = {}): Promise<T> {
  let res: Response;
  try {
    res = await fetch(path, {
      ...init,
      headers: { Accept: "application/json", ...(init.headers ?? {}) },
    });
  } catch (err) {
    if (isAbortError(err)) throw err;
    throw new ApiError(0, "Network error: the service could not be reached.");
  }

  let body: unknown = null;
  try {
    body = await res.json();
  } catch {
    body = null; // not JSON (e.g. an HTML error page from a proxy)
  }

  if (!res.ok) {
    const serverMessage =
      body && typeof body === "object" && typeof (body as { error?: unknown }).error === "string"
        ? (body as { error: string }).error
        : null;
    throw new ApiError(
      res.status,
      serverMessage ?? `Request failed with status ${res.status}`,
      serverMessage,
    );
  }
  if (body === null) {
    throw new ApiError(res.status, "The service sent a response that is not JSON.");
  }
  return body as T;
}

/** A query string in the API's form: a list is one comma-separated value (`genres=Comedy,Drama`). */
function queryString(params: Record<string, string | number | string[] | undefined>): URLSearchParams {
  const qs = new URLSearchParams();
  for (const [name, value] of Object.entries(params)) {
    if (value !== undefined) qs.set(name, Array.isArray(value) ? value.join(",") : String(value));
  }
  return qs;
}

/** A method to ask: its name, or the service's entry for it (`GET /methods`), whose `path` then decides. */
export type MethodRef = Method | Pick<MethodInfo, "name" | "path">;

/** The paths that answer with a method of their own (a name alone: the two original methods'). */
const RECOMMEND_PATH: Record<string, "/recommend" | "/recommend-simple"> = {
  embedding: "/recommend",
  user_user: "/recommend-simple",
};

/** A method's own path when it has one; any other method is `/recommend` with `method`. */
function recommendPath(method: MethodRef): { path: "/recommend" | "/recommend-simple"; named?: Method } {
  const { name, path } = typeof method === "string" ? { name: method, path: RECOMMEND_PATH[method] } : method;
  return path === "/recommend" || path === "/recommend-simple" ? { path } : { path: "/recommend", named: name };
}

/** The filters that are set, in the API's field names (lists stay lists). */
export function activeFilters(filters: MovieFilters = {}): ApiFilters {
  const out: ApiFilters = {};
  if (filters.genres?.length) out.genres = filters.genres;
  if (filters.exclude_genres?.length) out.exclude_genres = filters.exclude_genres;
  for (const name of ["year_min", "year_max", "min_ratings"] as const) {
    const v = filters[name];
    if (typeof v === "number" && Number.isFinite(v) && !(name === "min_ratings" && v === 0)) out[name] = v;
  }
  return out;
}

/** A stable string for the set filters: keys requests, so a change refetches. */
export function filtersKey(filters: MovieFilters = {}): string {
  return JSON.stringify(activeFilters(filters));
}

export function getRecommendations(
  method: MethodRef,
  userId: number,
  k = 10,
  filters: MovieFilters = {},
  signal?: AbortSignal,
): Promise<RecommendResponse> {
  const { path, named } = recommendPath(method);
  const query: Query<"/recommend"> & Query<"/recommend-simple"> = {
    user_id: userId,
    k,
    ...(named ? { method: named } : {}),
    ...activeFilters(filters),
  };
  return request<RecommendResponse>(`${path}?${queryString(query)}`, { signal });
}

export function postRecommendations(
  method: MethodRef,
  ratings: RatingInput[],
  k = 10,
  filters: MovieFilters = {},
  signal?: AbortSignal,
): Promise<RecommendResponse> {
  const { path, named } = recommendPath(method);
  const body: RecommendRequest = { ratings, k, ...(named ? { method: named } : {}), ...activeFilters(filters) };
  return request<Ok<"/recommend" | "/recommend-simple", "post">>(path, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(body),
    signal,
  });
}

/** The served model's methods: name, label, description, default path, reason codes. */
export function getMethods(signal?: AbortSignal): Promise<MethodsResponse> {
  return request<MethodsResponse>("/methods", { signal });
}

/** The genres and year range the filters accept. */
export function getFilterOptions(signal?: AbortSignal): Promise<FilterOptions> {
  return request<FilterOptions>("/filters", { signal });
}

export function getUserTopRated(
  userId: number,
  limit = 10,
  signal?: AbortSignal,
): Promise<TopRatedResponse> {
  const query: Query<"/users/{user_id}/top-rated"> = { limit };
  return request<TopRatedResponse>(
    `/users/${encodeURIComponent(String(userId))}/top-rated?${queryString(query)}`,
    { signal },
  );
}

export function searchMovies(
  query: string,
  limit = 20,
  signal?: AbortSignal,
): Promise<MoviesResponse> {
  const params: Query<"/movies"> = { query, limit };
  return request<MoviesResponse>(`/movies?${queryString(params)}`, { signal });
}

export function getHealth(signal?: AbortSignal): Promise<HealthResponse> {
  return request<HealthResponse>("/health", { signal });
}

/** The explanation line of a recommendation; null when there is none to show. */
export function becauseText(because: Because | undefined): string | null {
  return because?.text.trim() || null;
}
