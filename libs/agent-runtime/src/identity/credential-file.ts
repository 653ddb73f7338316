import { readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import { writeFileAtomic } from "../host/atomic-file.ts";

/**
 * The agent's credential, received once in `welcome` in exchange for the single-use join
 * token. It lives in the state folder, readable by the agent's user only; a later
 * session (after a reconnect or a restart) authenticates with it.
 */
export class CredentialFile {
  readonly path: string;

  constructor(stateDir: string) {
    this.path = join(stateDir, "credential");
  }

  /** The stored credential, or undefined before the first registration. */
  async read(): Promise<string | undefined> {
    let text: string;
    try {
      text = await readFile(this.path, "utf8");
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
      throw error;
    }
    const info = await stat(this.path);
    if ((info.mode & 0o077) !== 0) {
      throw new Error(`${this.path} is readable by others (mode ${(info.mode & 0o777).toString(8)}): run chmod 600 on it, or delete it and register with a new join token`);
    }
    const credential = text.trim();
    return credential === "" ? undefined : credential;
  }

  async write(credential: string): Promise<void> {
    await writeFileAtomic(this.path, `${credential}\n`, 0o600);
  }
}
