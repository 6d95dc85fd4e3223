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
  },
});
