/**
 * Opt-in email capture (`captureEmails: true`): an email typed into a checkout or newsletter
 * form identifies the shopper, so a cart abandoned before they sign in can still be recovered.
 * Only fields that are clearly for that purpose are read — never a login or search box: an email
 * input inside an element marked `data-nudge-capture`, or inside a form whose id, name, class or
 * action says checkout / newsletter / subscribe. The caller checks consent.
 */

const PURPOSE = /checkout|newsletter|subscribe/i;
// Deliberately loose: the server validates; this only keeps obvious half-typed values out.
const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

export function isCaptureField(el: EventTarget | null): el is HTMLInputElement {
  if (!(el instanceof HTMLInputElement)) return false;
  if (el.type !== "email" && !/\bemail\b/.test(el.autocomplete)) return false;
  if (el.closest("[data-nudge-capture]")) return true;
  const f = el.form;
  return !!f && PURPOSE.test(`${f.id} ${f.getAttribute("name")} ${f.className} ${f.getAttribute("action")}`);
}

/** Calls `found` with each valid email committed (change event) in a capture field. */
export function watchEmails(found: (email: string) => void): () => void {
  const onChange = (e: Event) => {
    const el = e.target;
    if (!isCaptureField(el)) return;
    const value = el.value.trim().toLowerCase();
    if (value.length <= 254 && EMAIL.test(value)) found(value);
  };
  // Capture phase: the store's own handlers cannot stop the event from reaching us.
  document.addEventListener("change", onChange, true);
  return () => document.removeEventListener("change", onChange, true);
}
