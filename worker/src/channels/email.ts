import { expectOk, NotConfigured, PROVIDER_TIMEOUT_MS } from "./channel";
import type { Transport } from "./channel";

/**
 * Email over providers' HTTP APIs. Both take the message id as idempotency: Resend through its
 * `Idempotency-Key` header (a resend within 24 h is not delivered twice); Postmark has no such
 * header, so the id travels as metadata and our claim keeps retries rare (a send that times out
 * after Postmark accepted it is the one case that can deliver twice).
 */

/** The site's sender, else the deployment's EMAIL_FROM. */
const from = (env: Parameters<Transport>[0], m: Parameters<Transport>[1]) => {
  const sender = m.from ?? env.EMAIL_FROM;
  if (!sender) throw new NotConfigured("No sender: set the site's senderEmail or the EMAIL_FROM var.");
  return sender;
};

/** https://resend.com/docs/api-reference/emails/send-email */
export const resend: Transport = async (env, m) => {
  const res = await fetch(`${env.RESEND_API_URL ?? "https://api.resend.com"}/emails`, {
    method: "POST",
    signal: AbortSignal.timeout(PROVIDER_TIMEOUT_MS),
    headers: {
      authorization: `Bearer ${env.RESEND_API_KEY}`,
      "content-type": "application/json",
      "idempotency-key": `nudge-message/${m.messageId}`,
    },
    body: JSON.stringify({
      from: from(env, m),
      to: [m.to],
      subject: m.subject,
      html: m.html,
      text: m.text,
      headers: m.headers,
      ...(m.replyTo ? { reply_to: m.replyTo } : {}),
    }),
  });
  await expectOk(res, "Resend");
};

/** https://postmarkapp.com/developer/api/email-api — marketing goes through the broadcast stream. */
export const postmark: Transport = async (env, m) => {
  const res = await fetch(`${env.POSTMARK_API_URL ?? "https://api.postmarkapp.com"}/email`, {
    method: "POST",
    signal: AbortSignal.timeout(PROVIDER_TIMEOUT_MS),
    headers: {
      accept: "application/json",
      "content-type": "application/json",
      "x-postmark-server-token": env.POSTMARK_SERVER_TOKEN ?? "",
    },
    body: JSON.stringify({
      From: from(env, m),
      ...(m.replyTo ? { ReplyTo: m.replyTo } : {}),
      To: m.to,
      Subject: m.subject,
      HtmlBody: m.html,
      TextBody: m.text,
      Headers: Object.entries(m.headers).map(([Name, Value]) => ({ Name, Value })),
      MessageStream: "broadcast",
      Metadata: { nudge_message_id: String(m.messageId) },
    }),
  });
  await expectOk(res, "Postmark");
};
