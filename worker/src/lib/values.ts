/** A non-empty string (numbers become strings, as Segment allows numeric ids), cut to `max`. */
export const text = (v: unknown, max: number): string | null =>
  typeof v === "string" && v.length > 0
    ? v.slice(0, max)
    : typeof v === "number" && Number.isFinite(v)
      ? String(v)
      : null;

/** A JSON object: what parsed input must be before its fields are read. */
export type Dict = Record<string, unknown>;

export const isDict = (v: unknown): v is Dict => typeof v === "object" && v !== null && !Array.isArray(v);
