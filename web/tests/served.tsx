// The served model's methods as `GET /methods` lists them, and the page's components wired to them
// as page.tsx wires them (`useMethods`), for the component tests.
import { KnownUser } from "@/components/KnownUser";
import { NewUser } from "@/components/NewUser";
import { NewUserRecommendations } from "@/components/NewUserRecommendations";
import type { MethodsResponse, MovieFilters } from "@/lib/api";
import { useMethods } from "@/lib/useMethods";
import type { Rated } from "@/lib/useStoredRatings";

export function jsonResponse(body: unknown, status = 200): Response {
  return new Response(JSON.stringify(body), { status, headers: { "Content-Type": "application/json" } });
}

export const SERVED: MethodsResponse = {
  model_version: "3",
  methods: [
    { name: "embedding", label: "Embedding blend", description: "Taste vectors and item-item", path: "/recommend", reasons: {} },
    { name: "user_user", label: "User-user", description: "From people with similar ratings", path: "/recommend-simple", reasons: {} },
    { name: "item_mean", label: "Damped item mean", description: "Rated highly by many people", reasons: {} },
  ],
};

/** The method a recommendation request asks for: `method` (query or body), else its path's own. */
export function methodOf(url: string, init?: RequestInit): string {
  const [path, query] = url.split("?");
  const named = init?.body ? JSON.parse(init.body as string).method : new URLSearchParams(query).get("method");
  return named ?? (path === "/recommend-simple" ? "user_user" : "embedding");
}

export function KnownUserPage({ filters }: { filters?: MovieFilters }) {
  return <KnownUser methods={useMethods()} filters={filters} />;
}

export function NewUserPage({ filters }: { filters?: MovieFilters }) {
  return <NewUser methods={useMethods()} filters={filters} />;
}

export function NewUserRecommendationsPage({ rated }: { rated: Rated[] }) {
  return <NewUserRecommendations methods={useMethods()} rated={rated} />;
}
