import { createCipheriv, createDecipheriv, createHmac, randomBytes, type DecipherGCM } from "node:crypto";
import { createReadStream, createWriteStream } from "node:fs";
import { rm, stat } from "node:fs/promises";
import { Readable, Transform, type TransformCallback } from "node:stream";
import { pipeline } from "node:stream/promises";
import type { BlobStore } from "@devenv/snapshot";
import { ShrinkError } from "../errors.ts";

// "devenv sealed, version 1", then a 12-byte nonce, the ciphertext, and the 16-byte GCM tag
const magic = Buffer.from("DVS1");
const nonceBytes = 12;
const tagBytes = 16;
const overhead = magic.length + nonceBytes + tagBytes;

/**
 * A shrink run in parts passes unscrubbed intermediate data (staged chunks before
 * the free-text pass, the PII values met) through the blob store. It is sealed
 * with AES-256-GCM under a key derived from the pseudonym secret, and bound to
 * its object key, so the store never holds it readable and a swapped or altered
 * object fails to open.
 */
export function sealingKey(secret: Buffer): Buffer {
  return createHmac("sha256", secret).update("devenv shrink work objects v1").digest();
}

export async function putSealedBuffer(store: BlobStore, key: string, sealKey: Buffer, plaintext: Buffer): Promise<void> {
  const nonce = randomBytes(nonceBytes);
  const cipher = createCipheriv("aes-256-gcm", sealKey, nonce).setAAD(Buffer.from(key));
  const body = Buffer.concat([magic, nonce, cipher.update(plaintext), cipher.final(), cipher.getAuthTag()]);
  await store.put(key, body, body.length);
}

/** Streams a local file into the store, sealed; memory stays bounded by the stream buffers. */
export async function putSealedFile(store: BlobStore, key: string, sealKey: Buffer, path: string): Promise<void> {
  const { size } = await stat(path);
  const nonce = randomBytes(nonceBytes);
  const cipher = createCipheriv("aes-256-gcm", sealKey, nonce).setAAD(Buffer.from(key));
  async function* sealed(): AsyncGenerator<Buffer> {
    yield Buffer.concat([magic, nonce]);
    for await (const data of createReadStream(path, { highWaterMark: 256 * 1024 })) yield cipher.update(data as Buffer);
    yield cipher.final();
    yield cipher.getAuthTag();
  }
  await store.put(key, Readable.from(sealed(), { objectMode: false }), size + overhead);
}

export async function getSealedBuffer(store: BlobStore, key: string, sealKey: Buffer): Promise<Buffer> {
  const parts: Buffer[] = [];
  await pipeline(await store.get(key), opener(key, sealKey), async function* (source: AsyncIterable<Buffer>) {
    for await (const data of source) parts.push(data);
  });
  return Buffer.concat(parts);
}

/** Opens a sealed object into a local file; on any failure the file is removed. */
export async function getSealedFile(store: BlobStore, key: string, sealKey: Buffer, path: string): Promise<void> {
  try {
    await pipeline(await store.get(key), opener(key, sealKey), createWriteStream(path));
  } catch (error) {
    await rm(path, { force: true });
    throw error;
  }
}

/** Decrypts as it streams, holding back the last 16 bytes: the tag, checked at the end. */
function opener(key: string, sealKey: Buffer): Transform {
  let header = Buffer.alloc(0);
  let decipher: DecipherGCM | undefined;
  let tail = Buffer.alloc(0);
  const unreadable = (why: string) =>
    new ShrinkError("failed", `cannot open the shrink work object ${key}: ${why} (was it written with another pseudonym secret, or altered?)`);
  return new Transform({
    transform(data: Buffer, _encoding, done: TransformCallback) {
      try {
        if (!decipher) {
          header = Buffer.concat([header, data]);
          if (header.length < magic.length + nonceBytes) return done();
          if (!header.subarray(0, magic.length).equals(magic)) return done(unreadable("not a sealed object"));
          decipher = createDecipheriv("aes-256-gcm", sealKey, header.subarray(magic.length, magic.length + nonceBytes)).setAAD(Buffer.from(key));
          data = header.subarray(magic.length + nonceBytes);
        }
        const available = Buffer.concat([tail, data]);
        const cut = Math.max(0, available.length - tagBytes);
        tail = available.subarray(cut);
        done(null, cut > 0 ? decipher.update(available.subarray(0, cut)) : undefined);
      } catch (error) {
        done(error as Error);
      }
    },
    flush(done: TransformCallback) {
      if (!decipher || tail.length < tagBytes) return done(unreadable("truncated"));
      try {
        decipher.setAuthTag(tail);
        done(null, decipher.final());
      } catch {
        done(unreadable("authentication failed"));
      }
    },
  });
}
