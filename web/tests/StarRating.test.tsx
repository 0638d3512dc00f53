import { fireEvent, render, screen } from "@testing-library/react";
import { useState } from "react";
import { describe, expect, it, vi } from "vitest";
import { StarRating } from "@/components/StarRating";

function Controlled({ initial = 0, onChange }: { initial?: number; onChange?: (v: number) => void }) {
  const [value, setValue] = useState(initial);
  return (
    <StarRating
      label="Toy Story"
      value={value}
      onChange={(v) => {
        setValue(v);
        onChange?.(v);
      }}
    />
  );
}

describe("StarRating", () => {
  it("is a labelled, focusable slider that starts unrated", () => {
    render(<Controlled />);
    const slider = screen.getByRole("slider", { name: "Your rating for Toy Story" });
    expect(slider.getAttribute("tabindex")).toBe("0");
    expect(slider.getAttribute("aria-valuemin")).toBe("0.5");
    expect(slider.getAttribute("aria-valuemax")).toBe("5");
    expect(slider.getAttribute("aria-valuenow")).toBeNull();
    expect(slider.getAttribute("aria-valuetext")).toBe("not rated");
  });

  it("moves by half stars with the arrow keys and clamps at the ends", () => {
    const onChange = vi.fn();
    render(<Controlled onChange={onChange} />);
    const slider = screen.getByRole("slider");
    fireEvent.keyDown(slider, { key: "ArrowRight" });
    expect(slider.getAttribute("aria-valuenow")).toBe("0.5");
    fireEvent.keyDown(slider, { key: "ArrowUp" });
    fireEvent.keyDown(slider, { key: "ArrowRight" });
    expect(slider.getAttribute("aria-valuenow")).toBe("1.5");
    expect(slider.getAttribute("aria-valuetext")).toBe("1.5 out of 5 stars");
    fireEvent.keyDown(slider, { key: "ArrowLeft" });
    fireEvent.keyDown(slider, { key: "ArrowDown" });
    fireEvent.keyDown(slider, { key: "ArrowDown" }); // already at the minimum
    expect(slider.getAttribute("aria-valuenow")).toBe("0.5");
    expect(onChange.mock.calls.map((c) => c[0])).toEqual([0.5, 1, 1.5, 1, 0.5]);
  });

  it("jumps with Home, End and digit keys", () => {
    render(<Controlled initial={3} />);
    const slider = screen.getByRole("slider");
    fireEvent.keyDown(slider, { key: "End" });
    expect(slider.getAttribute("aria-valuenow")).toBe("5");
    fireEvent.keyDown(slider, { key: "ArrowRight" }); // stays at 5
    expect(slider.getAttribute("aria-valuenow")).toBe("5");
    fireEvent.keyDown(slider, { key: "Home" });
    expect(slider.getAttribute("aria-valuenow")).toBe("0.5");
    fireEvent.keyDown(slider, { key: "4" });
    expect(slider.getAttribute("aria-valuenow")).toBe("4");
  });

  it("ignores other keys (Tab still moves focus)", () => {
    const onChange = vi.fn();
    render(<Controlled initial={2} onChange={onChange} />);
    fireEvent.keyDown(screen.getByRole("slider"), { key: "Tab" });
    fireEvent.keyDown(screen.getByRole("slider"), { key: "a" });
    expect(onChange).not.toHaveBeenCalled();
  });

  it("sets whole and half stars by clicking the right or left half of a star", () => {
    const onChange = vi.fn();
    const { container } = render(<Controlled onChange={onChange} />);
    fireEvent.click(container.querySelector('[data-value="3.5"]')!);
    expect(screen.getByRole("slider").getAttribute("aria-valuenow")).toBe("3.5");
    fireEvent.click(container.querySelector('[data-value="5"]')!);
    expect(screen.getByRole("slider").getAttribute("aria-valuenow")).toBe("5");
    fireEvent.click(container.querySelector('[data-value="0.5"]')!);
    expect(onChange.mock.calls.map((c) => c[0])).toEqual([3.5, 5, 0.5]);
  });

  it("offers ten click targets, 0.5 to 5.0", () => {
    const { container } = render(<Controlled />);
    const values = [...container.querySelectorAll("[data-value]")].map((el) => el.getAttribute("data-value"));
    expect(values).toEqual(["0.5", "1", "1.5", "2", "2.5", "3", "3.5", "4", "4.5", "5"]);
  });
});
