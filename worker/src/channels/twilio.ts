import { expectOk, PROVIDER_TIMEOUT_MS } from "./channel";
import type { Transport } from "./channel";

/**
 * SMS and automated calls over Twilio's REST API (form-encoded, HTTP Basic with the account SID
 * and auth token). A call carries its TwiML inline (`Twiml`), so no public URL has to serve it.
 * Twilio documents no idempotency key for these two resources; our claim keeps retries rare.
 */

function post(env: Parameters<Transport>[0], resource: "Messages" | "Calls", form: Record<string, string>) {
  const sid = env.TWILIO_ACCOUNT_SID ?? "";
  return fetch(
    `${env.TWILIO_API_URL ?? "https://api.twilio.com"}/2010-04-01/Accounts/${encodeURIComponent(sid)}/${resource}.json`,
    {
      method: "POST",
      signal: AbortSignal.timeout(PROVIDER_TIMEOUT_MS),
      headers: {
        authorization: `Basic ${btoa(`${sid}:${env.TWILIO_AUTH_TOKEN ?? ""}`)}`,
        "content-type": "application/x-www-form-urlencoded",
      },
      body: new URLSearchParams({ To: form.To ?? "", From: env.TWILIO_FROM ?? "", ...form }).toString(),
    },
  );
}

const sender = (m: Parameters<Transport>[1]): Record<string, string> => (m.from ? { From: m.from } : {});

export const twilioSms: Transport = async (env, m) => {
  await expectOk(await post(env, "Messages", { To: m.to, ...sender(m), Body: m.text }), "Twilio");
};

export const twilioCall: Transport = async (env, m) => {
  await expectOk(await post(env, "Calls", { To: m.to, ...sender(m), Twiml: m.twiml ?? "" }), "Twilio");
};

const XML: Record<string, string> = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&apos;" };
/** Text as XML character data or an attribute value (TwiML). */
export const escapeXml = (text: string) => text.replace(/[&<>"']/g, (c) => XML[c] ?? c);

/** The TwiML of an automated call: the script, said twice, in the contact's language. */
export function twiml(script: string, locale: string): string {
  const lang = { en: "en-GB", fr: "fr-FR", ru: "ru-RU" }[locale] ?? "en-GB";
  const say = `<Say language="${lang}">${escapeXml(script)}</Say>`;
  return `<?xml version="1.0" encoding="UTF-8"?><Response>${say}<Pause length="1"/>${say}</Response>`;
}
