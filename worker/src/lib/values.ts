/** A non-empty string (numbers become strings, as Segment allows numeric ids), cut to `max`. */
export const text = (v: unknown, max: number): string | null =>
  typeof v === "string" && v.length > 0
    ? v.slice(0, max)
    : typeof v === "number" && Number.isFinite(v)
      ? String(v)
      : null;
