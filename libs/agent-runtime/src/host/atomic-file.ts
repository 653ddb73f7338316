import { randomBytes } from "node:crypto";
import { mkdir, open, rename, rm } from "node:fs/promises";
import { dirname, join, basename } from "node:path";

/**
 * Writes a small file so that a crash leaves either the old or the new content, never
 * a torn one: a temporary file beside it, fsync, rename, fsync of the folder.
 */
export async function writeFileAtomic(path: string, content: string, mode = 0o600): Promise<void> {
  const dir = dirname(path);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const temp = join(dir, `.${basename(path)}.${randomBytes(6).toString("hex")}.tmp`);
  try {
    const handle = await open(temp, "wx", mode);
    try {
      await handle.writeFile(content, "utf8");
      await handle.chmod(mode); // the umask may have narrowed or widened the open() mode
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temp, path);
    const folder = await open(dir, "r");
    try {
      await folder.sync();
    } finally {
      await folder.close();
    }
  } catch (error) {
    await rm(temp, { force: true });
    throw error;
  }
}
