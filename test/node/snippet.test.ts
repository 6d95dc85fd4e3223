import { execFileSync, spawnSync } from "node:child_process";
import { runInNewContext } from "node:vm";
import { describe, expect, it } from "vitest";
import { readStub, snippetTag } from "../../sdk/scripts/snippet";

/**
 * `npm run snippet`: the paste-ready tag for a store, made from the built stub
 * (dist/cdn/sdk/snippet.js, `npm run build` first) with the store's SDK address and key, run as a
 * merchant's page would run it.
 */

const snippet = (...args: string[]) =>
  execFileSync(process.execPath, ["sdk/scripts/snippet.ts", ...args], { encoding: "utf8", env: {} }).trim();

/** Runs the tag's script in a page of its own: the script element it adds and the calls it queued. */
function paste(tag: string) {
  const code = /^<script>([\s\S]*)<\/script>$/.exec(tag)?.[1];
  if (code === undefined) throw new Error(`not one inline script: ${tag.slice(0, 80)}`);
  const added: { async?: boolean; src?: string }[] = [];
  const page: Record<string, unknown> = {
    document: {
      createElement: () => ({}),
      head: { appendChild: (el: { src?: string }) => added.push(el) },
      addEventListener: () => {},
    },
    navigator: {},
  };
  page.window = page;
  runInNewContext(code, page);
  return { added, queued: (page.nudge as { q: unknown[][] }).q };
}

describe("npm run snippet", () => {
  it("should load the SDK from the address given and init with the store's key, not the demo's", () => {
    const tag = snippet("--sdk", "https://shop.example/nudge/nudge.js", "--key", "pk_live_7Hq2");
    expect(tag).not.toContain("/sdk/nudge.js");
    expect(tag).not.toContain("pk_demo");
    expect(tag).not.toContain("NUDGE_SDK_URL");
    const { added, queued } = paste(tag);
    expect(added).toEqual([{ async: true, src: "https://shop.example/nudge/nudge.js" }]);
    expect(JSON.parse(JSON.stringify(queued))).toEqual([["init", { key: "pk_live_7Hq2" }]]);
  });

  it("should load the SDK from the Worker given by --endpoint, which it then sends to by itself", () => {
    const { added, queued } = paste(snippet("--endpoint", "https://nudge.shop.example/", "--key", "pk_live_7Hq2"));
    expect(added[0]?.src).toBe("https://nudge.shop.example/sdk/nudge.js");
    expect(JSON.parse(JSON.stringify(queued))).toEqual([["init", { key: "pk_live_7Hq2" }]]);
  });

  it("should tell an SDK served elsewhere where the Worker is", () => {
    const tag = snippet(
      "--sdk",
      "/nudge/nudge.js",
      "--endpoint",
      "https://nudge.shop.example",
      "--key",
      "pk_live_7Hq2",
    );
    const { added, queued } = paste(tag);
    expect(added[0]?.src).toBe("/nudge/nudge.js");
    expect(JSON.parse(JSON.stringify(queued))).toEqual([
      ["init", { key: "pk_live_7Hq2", endpoint: "https://nudge.shop.example" }],
    ]);
  });

  it.each([
    [["--sdk", "https://shop.example/nudge.js"], "--key is required"],
    [["--key", "pk_live_7Hq2"], "--endpoint (the Worker's address) or --sdk is required"],
    [["--key", "pk_live_7Hq2", "--endpoint", "nudge.shop.example"], "the endpoint must be an http(s) URL"],
  ])("should refuse %j, say why and print no tag", (args, reason) => {
    const run = spawnSync(process.execPath, ["sdk/scripts/snippet.ts", ...args], { encoding: "utf8", env: {} });
    expect(run.status).toBe(2);
    expect(run.stdout).toBe("");
    expect(run.stderr).toContain(reason);
  });

  it.each([
    [{ key: 'pk_x"</script>', sdk: "/nudge.js" }, "the key must be a site's public key"],
    [{ key: "sk_live_7Hq2", sdk: "/nudge.js" }, "the key must be a site's public key"],
    [{ key: "pk_live_7Hq2", sdk: "javascript:alert(1)" }, "the SDK address must be an http(s) URL"],
    [{ key: "pk_live_7Hq2", sdk: "//evil.example/nudge.js" }, "the SDK address must be an http(s) URL"],
  ])("should refuse %j", (options, reason) => {
    expect(() => snippetTag(readStub(), options)).toThrow(reason);
  });

  it("should keep an address from closing the inline script", () => {
    const tag = snippetTag(readStub(), {
      sdk: "https://shop.example/</script><script>alert(1)//",
      key: "pk_live_7Hq2",
    });
    expect(tag.match(/<\/script>/g)).toHaveLength(1);
    expect(paste(tag).added[0]?.src).toBe("https://shop.example/%3C/script%3E%3Cscript%3Ealert(1)//");
  });
});
