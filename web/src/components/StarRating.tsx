"use client";

import { useState, type KeyboardEvent } from "react";

export const MIN_RATING = 0.5;
export const MAX_RATING = 5;
export const STEP = 0.5;

interface StarRatingProps {
  /** Current rating, 0.5–5.0; 0 means "not rated yet". */
  value: number;
  onChange: (value: number) => void;
  /** What is being rated, for screen readers (e.g. the movie title). */
  label: string;
  size?: "sm" | "md";
}

function clamp(v: number): number {
  return Math.min(MAX_RATING, Math.max(MIN_RATING, v));
}

export function formatRating(value: number): string {
  return value > 0 ? `${value.toFixed(1)} out of 5 stars` : "not rated";
}

/**
 * A 5-star rating input with half stars. One focusable slider:
 * arrow keys move by half a star, Home/End jump to the ends, digits 1–5 set
 * whole stars. With the mouse, the left half of a star sets x.5, the right half x.0.
 */
export function StarRating({ value, onChange, label, size = "md" }: StarRatingProps) {
  const [hover, setHover] = useState<number | null>(null);
  const shown = hover ?? value;
  const starSize = size === "sm" ? "h-5 w-5" : "h-7 w-7";

  function onKeyDown(e: KeyboardEvent<HTMLDivElement>) {
    let next: number | null = null;
    const base = value > 0 ? value : 0;
    switch (e.key) {
      case "ArrowRight":
      case "ArrowUp":
        next = clamp(base + STEP);
        break;
      case "ArrowLeft":
      case "ArrowDown":
        next = clamp(base - STEP);
        break;
      case "Home":
        next = MIN_RATING;
        break;
      case "End":
        next = MAX_RATING;
        break;
      default:
        if (/^[1-5]$/.test(e.key)) next = Number(e.key);
    }
    if (next !== null) {
      e.preventDefault();
      if (next !== value) onChange(next);
    }
  }

  return (
    <div
      role="slider"
      tabIndex={0}
      aria-label={`Your rating for ${label}`}
      aria-valuemin={MIN_RATING}
      aria-valuemax={MAX_RATING}
      aria-valuenow={value > 0 ? value : undefined}
      aria-valuetext={formatRating(value)}
      onKeyDown={onKeyDown}
      onMouseLeave={() => setHover(null)}
      className="inline-flex items-center rounded-md p-0.5 outline-none focus-visible:ring-2 focus-visible:ring-indigo-500 focus-visible:ring-offset-1"
    >
      {[1, 2, 3, 4, 5].map((star) => {
        const fill = shown >= star ? 1 : shown >= star - 0.5 ? 0.5 : 0;
        return (
          <span key={star} className={`relative inline-block cursor-pointer ${starSize}`}>
            <StarIcon className={`absolute inset-0 ${starSize} text-slate-300`} />
            <span
              className="absolute inset-y-0 left-0 overflow-hidden"
              style={{ width: `${fill * 100}%` }}
              aria-hidden="true"
            >
              <StarIcon className={`${starSize} text-amber-400`} />
            </span>
            {[star - 0.5, star].map((v, i) => (
              <span
                key={v}
                data-value={v}
                aria-hidden="true"
                title={`${v.toFixed(1)} stars`}
                className={`absolute inset-y-0 w-1/2 ${i === 0 ? "left-0" : "right-0"}`}
                onMouseEnter={() => setHover(v)}
                onClick={() => onChange(v)}
              />
            ))}
          </span>
        );
      })}
      <span className="ml-2 w-8 text-sm tabular-nums text-slate-600" aria-hidden="true">
        {shown > 0 ? shown.toFixed(1) : ""}
      </span>
    </div>
  );
}

function StarIcon({ className }: { className?: string }) {
  return (
    <svg viewBox="0 0 24 24" fill="currentColor" className={className} aria-hidden="true">
      <path d="M12 2.5l2.94 5.96 6.58.96-4.76 4.64 1.12 6.55L12 17.52l-5.88 3.09 1.12-6.55L2.48 9.42l6.58-.96L12 2.5z" />
    </svg>
  );
}
