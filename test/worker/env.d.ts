import type { D1Migration } from "@cloudflare/vitest-plugin";
import type { Env as WorkerEnv } from "../../worker/src/env";

// `env` from cloudflare:workers is typed by Cloudflare.Env: the Worker's bindings plus the
// migrations the test setup applies.
declare global {
  namespace Cloudflare {
    interface Env extends WorkerEnv {
      TEST_MIGRATIONS: D1Migration[];
      /** A real (local) Queue whose consumer is the Worker under test: the Queue path's tests bind it as INGEST_QUEUE. */
      TEST_INGEST_QUEUE: Queue;
    }
  }
}
