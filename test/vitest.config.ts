import { cloudflareTest, readD1Migrations } from "@cloudflare/vitest-plugin";
import { defineConfig } from "vitest/config";

/** Unit tests: the SDK in happy-dom, the Worker inside workerd with a real (local) D1. */
export default defineConfig({
  define: { __DEV__: "true", __VERSION__: JSON.stringify("test") },
  test: {
    projects: [
      {
        extends: true,
        test: {
          name: "sdk",
          include: ["test/sdk/**/*.test.ts"],
          environment: "happy-dom",
          setupFiles: ["fake-indexeddb/auto"],
        },
      },
      {
        extends: true,
        test: { name: "promotions", include: ["test/promotions/**/*.test.ts"], environment: "node" },
      },
      {
        extends: true,
        // Campaign statistics (worker/src/results/stats.ts): pure, plain Node.
        test: { name: "results", include: ["test/results/**/*.test.ts"], environment: "node" },
      },
      {
        extends: true,
        plugins: [
          cloudflareTest(async () => ({
            wrangler: { configPath: "./test/worker/wrangler.jsonc" },
            miniflare: { bindings: { TEST_MIGRATIONS: await readD1Migrations("./worker/migrations") } },
          })),
        ],
        test: {
          name: "worker",
          include: ["test/worker/**/*.test.ts"],
          setupFiles: ["./test/worker/setup.ts"],
          // Loopback stand-ins for email/SMS providers (channels tests).
          globalSetup: ["./test/worker/provider-fakes.ts"],
        },
      },
    ],
  },
});
