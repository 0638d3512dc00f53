import { fireEvent, render, screen } from "@testing-library/react";
import { describe, expect, it, vi } from "vitest";
import { ErrorBox, describeError } from "@/components/ErrorBox";
import { ApiError } from "@/lib/api";

describe("describeError", () => {
  it("explains a network failure", () => {
    expect(describeError(new ApiError(0, "Network error"))).toEqual({
      title: "Can't reach the service",
      detail: "Check your connection, then try again.",
    });
  });

  it("passes on the service's message for an unknown user (404)", () => {
    const d = describeError(new ApiError(404, "unknown user 99999", "unknown user 99999"));
    expect(d.title).toBe("Not found");
    expect(d.detail).toBe("unknown user 99999");
  });

  it("has a sensible 404 message when the body is not the service's JSON", () => {
    expect(describeError(new ApiError(404, "Request failed with status 404")).detail).toMatch(
      /did not answer at this address/,
    );
  });

  it("says the service is unavailable on 503", () => {
    const d = describeError(new ApiError(503, "no model loaded", "no model loaded"));
    expect(d.title).toBe("Service unavailable");
    expect(d.detail).toMatch(/try again in a moment/);
  });

  it("maps 400 and 413 with the server's message", () => {
    expect(describeError(new ApiError(400, "k must be 1..100", "k must be 1..100")).detail).toBe(
      "k must be 1..100",
    );
    expect(describeError(new ApiError(413, "too many ratings", "too many ratings")).title).toBe(
      "Too much at once",
    );
  });

  it("hides server internals on other 5xx and unknown errors", () => {
    expect(describeError(new ApiError(500, "Traceback (most recent call last)...")).detail).toBe(
      "Please try again in a moment.",
    );
    const d = describeError(new TypeError("x is undefined\n    at foo (page.js:1:2)"));
    expect(d).toEqual({ title: "Something went wrong", detail: "Please try again." });
  });
});

describe("ErrorBox", () => {
  it("renders an alert with the mapped message, never the raw error", () => {
    render(<ErrorBox error={new ApiError(503, "boom", "internal: model registry down")} />);
    const alert = screen.getByRole("alert");
    expect(alert.textContent).toContain("Service unavailable");
    expect(alert.textContent).not.toContain("registry");
    expect(screen.queryByRole("button")).toBeNull();
  });

  it("offers a retry button when given one", () => {
    const onRetry = vi.fn();
    render(<ErrorBox error={new ApiError(0, "Network error")} onRetry={onRetry} />);
    fireEvent.click(screen.getByRole("button", { name: "Try again" }));
    expect(onRetry).toHaveBeenCalledTimes(1);
  });

  it("offers no retry when retrying cannot help (unknown user)", () => {
    render(<ErrorBox error={new ApiError(404, "unknown user 7", "unknown user 7")} onRetry={() => {}} />);
    expect(screen.getByRole("alert").textContent).toContain("unknown user 7");
    expect(screen.queryByRole("button")).toBeNull();
  });
});
