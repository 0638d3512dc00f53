// Small client for the movierec Flask service. The page is served by that same
// service, so every URL is relative (same origin, no CORS).

export type Method = "embedding" | "user_user";

/**
 * Why a movie was recommended: a reason code and a line of text (`movie_ids` names the liked
 * movies for `similar_to_liked`). Older services sent a plain string.
 */
export type Because =
  | { code?: string; text?: string; movie_ids?: number[]; n_users?: number; mean_rating?: number | null }
  | string
  | null;

/** Filters, applied by the service before the top-k cut. Empty fields mean "no filter". */
export interface MovieFilters {
  /** Only movies with any of these genres. */
  genres?: string[];
  /** No movie with any of these genres. */
  exclude_genres?: string[];
  year_min?: number | null;
  year_max?: number | null;
  /** Only movies with at least this many ratings. */
  min_ratings?: number | null;
}

export interface FilterOptions {
  genres: { name: string; n_movies: number }[];
  year_min: number | null;
  year_max: number | null;
  model_version?: string;
}

export interface Recommendation {
  movie_id: number;
  title: string;
  year?: number | null;
  genres?: string[];
  score?: number;
  predicted_rating?: number | null;
  because?: Because;
}

export interface RecommendResponse {
  user_id?: number;
  method: Method | string;
  model_version: string;
  recommendations: Recommendation[];
  /** How many movies could be recommended: not yet rated and passing the filters. */
  n_candidates?: number;
  /** Only when fewer than k movies qualify, e.g. "only 3 unrated movies match the filters". */
  note?: string;
  /** POST only: movie ids the model does not know, skipped. */
  ignored_movie_ids?: number[];
}

export interface Movie {
  movie_id: number;
  title: string;
  year?: number | null;
  genres?: string[];
  n_ratings?: number;
}

export interface RatedMovie {
  movie_id: number;
  title: string;
  year?: number | null;
  genres?: string[];
  rating: number;
}

export interface TopRatedResponse {
  user_id: number;
  movies: RatedMovie[];
  model_version?: string;
}

export interface MoviesResponse {
  movies: Movie[];
  model_version?: string;
}

export interface HealthResponse {
  status: string;
  model_name?: string;
  model_version?: string;
  run_id?: string;
}

export interface RatingInput {
  movie_id: number;
  rating: number;
}

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

const RECOMMEND_PATH: Record<Method, string> = {
  embedding: "/recommend",
  user_user: "/recommend-simple",
};

/** The filters that are set, in the API's field names (lists stay lists). */
export function activeFilters(filters: MovieFilters = {}): MovieFilters {
  const out: MovieFilters = {};
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
  method: Method,
  userId: number,
  k = 10,
  filters: MovieFilters = {},
  signal?: AbortSignal,
): Promise<RecommendResponse> {
  const qs = new URLSearchParams({ user_id: String(userId), k: String(k) });
  // Lists go as one comma-separated value: genres=Comedy,Drama
  for (const [name, value] of Object.entries(activeFilters(filters))) {
    qs.set(name, Array.isArray(value) ? value.join(",") : String(value));
  }
  return request<RecommendResponse>(`${RECOMMEND_PATH[method]}?${qs}`, { signal });
}

export function postRecommendations(
  method: Method,
  ratings: RatingInput[],
  k = 10,
  filters: MovieFilters = {},
  signal?: AbortSignal,
): Promise<RecommendResponse> {
  return request<RecommendResponse>(RECOMMEND_PATH[method], {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ ratings, k, ...activeFilters(filters) }),
    signal,
  });
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
  return request<TopRatedResponse>(
    `/users/${encodeURIComponent(String(userId))}/top-rated?limit=${limit}`,
    { signal },
  );
}

export function searchMovies(
  query: string,
  limit = 20,
  signal?: AbortSignal,
): Promise<MoviesResponse> {
  const qs = new URLSearchParams({ query, limit: String(limit) });
  return request<MoviesResponse>(`/movies?${qs}`, { signal });
}

export function getHealth(signal?: AbortSignal): Promise<HealthResponse> {
  return request<HealthResponse>("/health", { signal });
}

/** The explanation text of a recommendation, whichever form the service used. */
export function becauseText(because: Because | undefined): string | null {
  if (!because) return null;
  if (typeof because === "string") return because.trim() || null;
  return because.text?.trim() || null;
}
