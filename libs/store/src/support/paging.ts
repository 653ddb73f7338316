import { sql, type Kysely, type RawBuilder, type SqlBool } from "kysely";
import type { Database } from "../database.ts";
import { StoreError } from "../errors.ts";

type PagedTable = "instances" | "agents";
export interface PageCursor {
  createdAt: string;
  id: string;
}

/** Where the page after `afterId` starts; an id that does not exist is bad input, not an empty page. */
export async function pageCursor(db: Kysely<Database>, table: PagedTable, afterId: string): Promise<PageCursor> {
  const row = await db.selectFrom(table).select(["created_at", "id"]).where("id", "=", afterId).executeTakeFirst();
  if (!row) throw new StoreError("invalid-input", `after: no ${table === "agents" ? "agent" : "instance"} ${afterId} to continue from`);
  return { createdAt: row.created_at, id: row.id };
}

/** Rows after the cursor in (created_at, id) order. */
export function afterCursor(cursor: PageCursor): RawBuilder<SqlBool> {
  return sql<SqlBool>`(created_at > ${cursor.createdAt} or (created_at = ${cursor.createdAt} and id > ${cursor.id}))`;
}

/** Every item of a keyset-paged list, a page at a time: memory is one page, whatever the fleet's size. */
export async function* everyPage<T extends { id: string }>(fetch: (page: { limit: number; after?: string }) => Promise<T[]>, pageSize = 1000): AsyncGenerator<T> {
  let after: string | undefined;
  for (;;) {
    const page = await fetch({ limit: pageSize, ...(after === undefined ? {} : { after }) });
    yield* page;
    if (page.length < pageSize) return;
    after = page[page.length - 1]!.id;
  }
}

/** Every item of a keyset-paged list in one array, for answers that return them all. */
export async function allPages<T extends { id: string }>(fetch: (page: { limit: number; after?: string }) => Promise<T[]>, pageSize = 1000): Promise<T[]> {
  const items: T[] = [];
  for await (const item of everyPage(fetch, pageSize)) items.push(item);
  return items;
}
