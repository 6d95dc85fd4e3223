import { defineConfig } from "vitest/config";

/** End-to-end: real Chromium against the demo store on wrangler dev (see server.ts). */
export default defineConfig({
  test: {
    name: "e2e",
    include: ["test/e2e/**/*.test.ts"],
    environment: "node",
    globalSetup: ["test/e2e/server.ts"],
    testTimeout: 90_000,
    hookTimeout: 90_000,
    fileParallelism: false,
    // expect.poll gives up after 1 s by default: on a loaded machine (2 cores shared by several
    // runs) a page load alone took longer. A wait is not an assertion; it only ends sooner.
    expect: { poll: { timeout: 20_000 } },
  },
});
