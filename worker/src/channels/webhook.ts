import { hmacHex } from "../lib/crypto";
import { expectOk, PROVIDER_TIMEOUT_MS } from "./channel";
import type { Transport } from "./channel";

/**
 * Every webhook Nudge sends — campaign steps and callback tasks — carries one signature, Stripe's:
 * `X-Nudge-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "t.body">`, keyed with the site's own
 * signing secret (shown to the merchant once: POST /v1/admin/webhook-secret). The receiver
 * recomputes it and rejects old timestamps; one site's key cannot sign another site's hooks.
 */
export async function signature(secret: string, body: string, nowMs: number): Promise<string> {
  const t = Math.floor(nowMs / 1000);
  return `t=${t},v1=${await hmacHex(secret, `${t}.${body}`)}`;
}

/** A campaign's webhook step: the payload, signed, with `Idempotency-Key: nudge-message/<id>`. */
export const webhook: Transport = async (_env, m, now) => {
  if (!m.signingSecret) throw new Error("Webhook: no signing secret for the site.");
  const res = await fetch(m.to, {
    method: "POST",
    signal: AbortSignal.timeout(PROVIDER_TIMEOUT_MS),
    headers: {
      "content-type": "application/json",
      "idempotency-key": `nudge-message/${m.messageId}`,
      "x-nudge-signature": await signature(m.signingSecret, m.text, now),
    },
    body: m.text,
    // A redirect could lead where the URL check never looked (a private address).
    redirect: "manual",
  });
  await expectOk(res, "Webhook");
};
