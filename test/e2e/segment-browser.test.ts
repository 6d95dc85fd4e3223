import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { baseUrl, useBrowser, watchErrors } from "./browser";

const SECRET = { authorization: "Bearer sk_demo" };
/** Segment's browser library as a store ships it: the package's own UMD build, unchanged. */
const ANALYTICS_JS = readFileSync("node_modules/@segment/analytics-next/dist/umd/index.js", "utf8");

describe("Segment's browser library (analytics.js), pointed at Nudge", () => {
  const browser = useBrowser();

  it("should fetch its settings from the Worker and send identify, track and page there, each applied", async () => {
    const page = await browser().newPage();
    const errors = watchErrors(page);
    const requests: string[] = [];
    page.on("request", (r) => requests.push(`${r.method()} ${new URL(r.url()).pathname}`));
    await page.goto(`${baseUrl()}/`);
    await page.addScriptTag({ content: ANALYTICS_JS });
    const userId = `ajs-${Date.now()}`;
    await page.evaluate(
      async ({ userId, origin }) => {
        // The only change a store makes: where the library fetches its settings from.
        const w = window as unknown as {
          AnalyticsNext: {
            AnalyticsBrowser: {
              load: (s: { writeKey: string; cdnURL: string }) => Promise<
                [
                  {
                    identify: (id: string, traits: object) => Promise<unknown>;
                    track: (e: string, p: object) => Promise<unknown>;
                    page: (name: string) => Promise<unknown>;
                  },
                ]
              >;
            };
          };
        };
        const [analytics] = await w.AnalyticsNext.AnalyticsBrowser.load({ writeKey: "pk_demo", cdnURL: origin });
        await analytics.identify(userId, { email: `${userId}@example.com`, name: "Ajs Ann" });
        await analytics.track("Product Viewed", { product_id: "E7247", name: "E7247 speaker", price: 79 });
        await analytics.page("Home");
      },
      { userId, origin: baseUrl() },
    );

    expect(requests).toContain("GET /v1/projects/pk_demo/settings");
    for (const path of ["/v1/i", "/v1/t", "/v1/p"]) expect(requests).toContain(`POST ${path}`);
    const found = await fetch(`${baseUrl()}/v1/admin/contacts?userId=${userId}`, { headers: SECRET });
    const { contact } = (await found.json()) as { contact: { id: string; email: string; name: string } };
    expect(contact).toMatchObject({ email: `${userId}@example.com`, name: "Ajs Ann" });
    const dump = await fetch(`${baseUrl()}/v1/admin/contacts/${contact.id}/export`, { headers: SECRET });
    const { data } = (await dump.json()) as { data: { events: { type: string; event: string | null }[] } };
    expect(data.events.map((e) => e.event ?? e.type).sort()).toEqual(["Home", "Product Viewed", "identify"].sort());
    expect(errors).toEqual([]);
    await page.close();
  });
});
