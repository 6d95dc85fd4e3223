import type { D1Migration } from "@cloudflare/vitest-plugin";
import type { Env as WorkerEnv } from "../../worker/src/env";

// `env` from cloudflare:workers is typed by Cloudflare.Env: the Worker's bindings plus the
// migrations the test setup applies.
declare global {
  namespace Cloudflare {
    interface Env extends WorkerEnv {
      TEST_MIGRATIONS: D1Migration[];
    }
  }
}
