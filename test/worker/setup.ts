import { applyD1Migrations } from "cloudflare:test";
import { env } from "cloudflare:workers";

// Every home gets the same schema (model/directory.ts); DB_TWO and DB_NEW hold only the sites a test puts there.
await applyD1Migrations(env.DB, env.TEST_MIGRATIONS);
await applyD1Migrations(env.DB_TWO as D1Database, env.TEST_MIGRATIONS);
await applyD1Migrations(env.DB_NEW as D1Database, env.TEST_MIGRATIONS);
