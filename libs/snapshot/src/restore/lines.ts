import { createReadStream } from "node:fs";
import { createGunzip } from "node:zlib";
import { SnapshotError } from "../errors.ts";

/** Streams the lines of a gzip NDJSON chunk without holding the chunk in memory. */
export async function* chunkLines(path: string): AsyncGenerator<string> {
  // 16 KiB output pieces (the default) cost a callback and a string join each: larger is cheaper
  const file = createReadStream(path, { highWaterMark: 256 * 1024 });
  const gunzip = createGunzip({ chunkSize: 64 * 1024 });
  // pipe() does not pass the file's errors on (a missing file would be an unhandled error event)
  let readError: Error | undefined;
  file.on("error", (error) => {
    readError = error;
    gunzip.destroy(error);
  });
  file.pipe(gunzip);
  // decodes across buffer boundaries, so a multi-byte character split between reads stays whole
  gunzip.setEncoding("utf8");
  let rest = "";
  try {
    for await (const data of gunzip) {
      const text = rest + (data as string);
      let start = 0;
      let newline = text.indexOf("\n", start);
      while (newline !== -1) {
        yield text.slice(start, newline);
        start = newline + 1;
        newline = text.indexOf("\n", start);
      }
      rest = text.slice(start);
    }
  } catch (error) {
    if (readError) throw new SnapshotError("failed", `chunk ${path} cannot be read: ${readError.message}`, { cause: readError });
    throw new SnapshotError("corrupt", `chunk ${path} cannot be decompressed: ${(error as Error).message}`, { cause: error });
  } finally {
    // a reader that stops early leaves the file open otherwise
    file.destroy();
  }
  if (rest.length > 0) throw new SnapshotError("corrupt", `chunk ${path} ends without a newline`);
}
