import * as v from "valibot";
import { fail, readJson } from "./http";

/**
 * The door of every admin, operator and dev endpoint: a Valibot schema checks the request body or
 * query before anything touches it, and its first issue becomes one 400 in the error shape of
 * `fail`, naming the field and where it is (`promotion.action.target.product is not a known
 * field.`). Schemas are strict objects, so a misspelt field is refused instead of silently ignored.
 */

/** The first problem with an input, in words, and the dotted path of the field it is about. */
export interface Problem {
  /** `unknown_field` for a field the schema does not know; `invalid` for any other problem. */
  kind: "unknown_field" | "invalid";
  /** `promotion.conditions.startsAt`, `steps[0].delay`; `root` alone for the input itself. */
  field: string;
  message: string;
}

/** Schema messages are written as a predicate ("must be …") and read after the field's name. */
const joined = (field: string, message: string) =>
  !field
    ? message
    : message.startsWith("must ") || message.startsWith("is ")
      ? `${field} ${message}`
      : `${field}: ${message}`;

function describeIssue(issue: v.BaseIssue<unknown>, root = ""): Problem {
  let field = root;
  for (const step of issue.path ?? []) {
    const key = String(step.key);
    field += typeof step.key === "number" ? `[${key}]` : field ? `.${key}` : key;
  }
  const last = issue.path?.at(-1);
  // Strict objects report a key they do not know as "expected never", and a required key left out
  // as received "undefined"; their own message for both is "Invalid key: …".
  if (issue.type === "strict_object" && last?.origin === "key" && issue.expected === "never")
    return { kind: "unknown_field", field, message: `${field} is not a known field.` };
  if (/object$/.test(issue.type) && last && issue.received === "undefined")
    return { kind: "invalid", field, message: `${field} is required.` };
  return { kind: "invalid", field, message: joined(field, issue.message) };
}

/** The input as the schema's output, or the first problem found (`root` prefixes the field paths). */
export function check<S extends v.GenericSchema>(
  schema: S,
  input: unknown,
  root = "",
): { ok: true; value: v.InferOutput<S> } | { ok: false; problem: Problem } {
  const r = v.safeParse(schema, input, { abortEarly: true });
  if (r.success) return { ok: true, value: r.output };
  const [issue] = r.issues;
  return { ok: false, problem: describeIssue(issue, root) };
}

/**
 * The input as the schema's output, or a 400 `{ error: { code, message, field } }`: `unknown_field`
 * for a field the schema does not know, else `code` (the endpoint's own, e.g. `invalid_promotion`).
 */
export function parseOr400<S extends v.GenericSchema>(
  schema: S,
  input: unknown,
  code: string,
  root = "",
): v.InferOutput<S> {
  const r = check(schema, input, root);
  if (r.ok) return r.value;
  const { kind, field, message } = r.problem;
  return fail(400, kind === "unknown_field" ? "unknown_field" : code, message, field ? { field } : {});
}

/** A JSON body of at most `limit` bytes, checked against `schema` (see `parseOr400`). */
export async function readBody<S extends v.GenericSchema>(
  req: Request,
  limit: number,
  schema: S,
  code = "invalid_body",
  root = "",
): Promise<v.InferOutput<S>> {
  return parseOr400(schema, await readJson(req, limit), code, root);
}

/** The query string (first value of each name), checked against a strict object of optional strings. */
export function readQuery<S extends v.GenericSchema>(url: string, schema: S, code = "invalid_query"): v.InferOutput<S> {
  const params = new URL(url).searchParams;
  const query: Record<string, string> = {};
  for (const [k, value] of params) if (!(k in query)) query[k] = value;
  return parseOr400(schema, query, code);
}

// ---- Pieces many schemas share ----

/** The message of a `v.variant`: an object is needed, or one of the `what` types it lists. */
export const variantMessage = (what: string) => (issue: v.BaseIssue<unknown>) =>
  issue.expected === "Object" ? `must be an object with a type.` : `must be one of the ${what}: ${issue.expected}.`;

/** A string of 1 to `max` characters. */
export const text = (max: number, message = `must be a string of 1 to ${max} characters.`) =>
  v.pipe(v.string(message), v.minLength(1, message), v.maxLength(max, message));

/** A whole number from `min` to `max`. */
export const int = (min: number, max: number, message = `must be a whole number from ${min} to ${max}.`) =>
  v.pipe(
    v.number(message),
    v.check((n) => Number.isInteger(n) && n >= min && n <= max, message),
  );

/** A finite number from `min` to `max`. */
export const num = (min: number, max: number, message = `must be a number from ${min} to ${max}.`) =>
  v.pipe(
    v.number(message),
    v.check((n) => n >= min && n <= max, message),
  );
