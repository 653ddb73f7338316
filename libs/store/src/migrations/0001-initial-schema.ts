import type { ColumnDefinitionBuilder, CreateTableBuilder, Kysely } from "kysely";
import type { Migration } from "kysely/migration";
import type { StoreDialect } from "../store.ts";

/**
 * The first schema. Portable column types (text, integer, bigint); the only dialect
 * difference is how an ever-increasing `seq` key is spelled.
 */
export function initialSchema(dialect: StoreDialect): Migration {
  // outbox, queue, logs and audit are read in insertion order: a sequence, not a clock
  function withSeq<T extends string>(table: CreateTableBuilder<T>): CreateTableBuilder<T | "seq"> {
    return dialect === "postgres"
      ? table.addColumn("seq", "bigserial", (col) => col.primaryKey())
      : table.addColumn("seq", "integer", (col) => col.primaryKey().autoIncrement());
  }
  const notNull = (col: ColumnDefinitionBuilder) => col.notNull();

  return {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable("users")
        .addColumn("id", "text", (col) => col.primaryKey())
        .addColumn("name", "text", (col) => col.notNull().unique())
        .addColumn("role", "text", notNull)
        .addColumn("slack_user_id", "text", (col) => col.unique())
        .addColumn("created_at", "text", notNull)
        .execute();

      await db.schema
        .createTable("api_tokens")
        .addColumn("id", "text", (col) => col.primaryKey())
        .addColumn("user_id", "text", (col) => col.notNull().references("users.id").onDelete("cascade"))
        .addColumn("name", "text", notNull)
        .addColumn("prefix", "text", notNull)
        .addColumn("token_hash", "text", (col) => col.notNull().unique())
        .addColumn("created_at", "text", notNull)
        .addColumn("expires_at", "text")
        .addColumn("last_used_at", "text")
        .addColumn("revoked_at", "text")
        .execute();
      await db.schema.createIndex("api_tokens_user").on("api_tokens").column("user_id").execute();

      await db.schema
        .createTable("snapshots")
        .addColumn("id", "text", (col) => col.primaryKey())
        .addColumn("location", "text", notNull)
        .addColumn("created_at", "text", notNull)
        .addColumn("size_bytes", "bigint", (col) => col.notNull().defaultTo(0))
        .addColumn("rows", "bigint", (col) => col.notNull().defaultTo(0))
        .addColumn("tables_count", "integer", (col) => col.notNull().defaultTo(0))
        .addColumn("source_description", "text", notNull)
        .addColumn("rules_digest", "text")
        .addColumn("pinned", "integer", (col) => col.notNull().defaultTo(0))
        .addColumn("status", "text", notNull)
        .execute();

      await db.schema
        .createTable("instances")
        .addColumn("id", "text", (col) => col.primaryKey())
        .addColumn("owner_id", "text", (col) => col.notNull().references("users.id"))
        .addColumn("kind", "text", notNull)
        .addColumn("provisioner", "text", notNull)
        .addColumn("state", "text", notNull)
        .addColumn("state_detail", "text")
        .addColumn("created_at", "text", notNull)
        .addColumn("updated_at", "text", notNull)
        .addColumn("ttl_expires_at", "text")
        .addColumn("snapshot_id", "text", (col) => col.references("snapshots.id"))
        .addColumn("current_snapshot_id", "text", (col) => col.references("snapshots.id"))
        .addColumn("host_address", "text")
        .addColumn("host_port", "integer")
        .addColumn("provider_id", "text")
        .addColumn("last_activity_at", "text")
        .execute();
      await db.schema.createIndex("instances_owner").on("instances").column("owner_id").execute();
      await db.schema.createIndex("instances_state").on("instances").column("state").execute();
      await db.schema.createIndex("instances_provider").on("instances").column("provider_id").execute();
      await db.schema.createIndex("instances_snapshot").on("instances").column("snapshot_id").execute();
      await db.schema.createIndex("instances_current_snapshot").on("instances").column("current_snapshot_id").execute();

      await db.schema
        .createTable("agents")
        .addColumn("id", "text", (col) => col.primaryKey())
        .addColumn("instance_id", "text", (col) => col.notNull().references("instances.id"))
        .addColumn("identity", "text", notNull)
        .addColumn("version", "text", notNull)
        .addColumn("credential_hash", "text", (col) => col.notNull().unique())
        .addColumn("revoked", "integer", (col) => col.notNull().defaultTo(0))
        .addColumn("state", "text", notNull)
        .addColumn("created_at", "text", notNull)
        .addColumn("last_heartbeat_at", "text")
        .addColumn("health", "text")
        .execute();
      await db.schema.createIndex("agents_instance").on("agents").column("instance_id").execute();

      await db.schema
        .createTable("join_tokens")
        .addColumn("id", "text", (col) => col.primaryKey())
        .addColumn("token_hash", "text", (col) => col.notNull().unique())
        .addColumn("instance_id", "text", (col) => col.notNull().references("instances.id"))
        .addColumn("created_at", "text", notNull)
        .addColumn("expires_at", "text", notNull)
        .addColumn("used_at", "text")
        .execute();
      await db.schema.createIndex("join_tokens_instance").on("join_tokens").column("instance_id").execute();

      await withSeq(db.schema.createTable("agent_commands"))
        .addColumn("id", "text", (col) => col.notNull().unique())
        .addColumn("agent_id", "text", (col) => col.notNull().references("agents.id"))
        .addColumn("type", "text", notNull)
        .addColumn("payload", "text", notNull)
        .addColumn("idempotency_key", "text", notNull)
        .addColumn("created_at", "text", notNull)
        .addColumn("delivered_at", "text")
        .addColumn("acked_at", "text")
        .addColumn("result", "text")
        .addUniqueConstraint("agent_commands_idempotency", ["agent_id", "idempotency_key"])
        .execute();
      await db.schema
        .createIndex("agent_commands_pending")
        .on("agent_commands")
        .columns(["agent_id", "acked_at", "seq"])
        .execute();

      await withSeq(db.schema.createTable("assignments"))
        .addColumn("id", "text", (col) => col.notNull().unique())
        .addColumn("instance_id", "text", (col) => col.notNull().references("instances.id"))
        .addColumn("snapshot_id", "text", (col) => col.notNull().references("snapshots.id"))
        .addColumn("state", "text", notNull)
        .addColumn("progress", "text")
        .addColumn("error", "text")
        .addColumn("created_at", "text", notNull)
        .addColumn("updated_at", "text", notNull)
        .execute();
      await db.schema.createIndex("assignments_instance").on("assignments").columns(["instance_id", "seq"]).execute();

      await withSeq(db.schema.createTable("jobs"))
        .addColumn("id", "text", (col) => col.notNull().unique())
        .addColumn("kind", "text", notNull)
        .addColumn("payload", "text", notNull)
        .addColumn("state", "text", notNull)
        .addColumn("attempts", "integer", (col) => col.notNull().defaultTo(0))
        .addColumn("max_attempts", "integer", notNull)
        .addColumn("lease_owner", "text")
        .addColumn("lease_expires_at", "text")
        .addColumn("parent_id", "text", (col) => col.references("jobs.id"))
        .addColumn("run_after", "text", notNull)
        .addColumn("created_at", "text", notNull)
        .addColumn("started_at", "text")
        .addColumn("finished_at", "text")
        .addColumn("result", "text")
        .addColumn("error", "text")
        .execute();
      await db.schema.createIndex("jobs_leasable").on("jobs").columns(["state", "kind", "seq"]).execute();
      await db.schema.createIndex("jobs_parent").on("jobs").column("parent_id").execute();

      await withSeq(db.schema.createTable("job_logs"))
        .addColumn("job_id", "text", (col) => col.notNull().references("jobs.id").onDelete("cascade"))
        .addColumn("at", "text", notNull)
        .addColumn("level", "text", notNull)
        .addColumn("line", "text", notNull)
        .execute();
      await db.schema.createIndex("job_logs_job").on("job_logs").columns(["job_id", "seq"]).execute();

      await db.schema
        .createTable("schedules")
        .addColumn("id", "text", (col) => col.primaryKey())
        .addColumn("name", "text", (col) => col.notNull().unique())
        .addColumn("cron", "text", notNull)
        .addColumn("timezone", "text", notNull)
        .addColumn("kind", "text", notNull)
        .addColumn("payload", "text", notNull)
        .addColumn("enabled", "integer", (col) => col.notNull().defaultTo(1))
        .addColumn("last_run_at", "text")
        .addColumn("next_run_at", "text")
        .execute();

      await withSeq(db.schema.createTable("audit_events"))
        .addColumn("at", "text", notNull)
        .addColumn("actor", "text", notNull)
        .addColumn("action", "text", notNull)
        .addColumn("subject", "text", notNull)
        .addColumn("detail", "text")
        .execute();
      await db.schema.createIndex("audit_events_subject").on("audit_events").columns(["subject", "seq"]).execute();
      await db.schema.createIndex("audit_events_actor").on("audit_events").columns(["actor", "seq"]).execute();
    },
  };
}
