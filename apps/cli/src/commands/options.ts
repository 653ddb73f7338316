import { InvalidArgumentError } from "commander";

/** Parses a flag's value as a positive integer, naming the flag when it is not one. */
export function positiveInt(flag: string, max = Number.MAX_SAFE_INTEGER): (value: string) => number {
  return (value) => {
    const n = Number(value);
    if (!/^\d+$/.test(value) || !Number.isSafeInteger(n) || n < 1 || n > max) {
      throw new InvalidArgumentError(`${flag} must be an integer from 1 to ${max}, got "${value}"`);
    }
    return n;
  };
}
