import { isDev } from "../env";
import { hmacHex } from "../lib/crypto";
import { expectOk } from "./channel";
import type { Transport } from "./channel";

/**
 * A signed webhook: POSTs the JSON payload to the step's URL with
 * `X-Nudge-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "t.body">` (the receiver recomputes
 * it with WEBHOOK_SECRET and rejects old timestamps) and `Idempotency-Key: nudge-message/<id>`.
 */
export const webhook: Transport = async (env, m, now) => {
  const secret = m.secret ?? env.WEBHOOK_SECRET ?? (isDev(env) ? "nudge-development-webhook-secret" : null);
  if (!secret) throw new Error("WEBHOOK_SECRET is not set: run `wrangler secret put WEBHOOK_SECRET`.");
  const t = Math.floor(now / 1000);
  const res = await fetch(m.to, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      "idempotency-key": `nudge-message/${m.messageId}`,
      "x-nudge-signature": `t=${t},v1=${await hmacHex(secret, `${t}.${m.text}`)}`,
    },
    body: m.text,
  });
  await expectOk(res, "Webhook");
};
