import type { Clock } from "@devenv/store";

/** A clock tests move by hand; it starts at the real time so EC2 launch times (moto's) compare sensibly. */
export class TestClock implements Clock {
  #ms: number;

  constructor(start: Date | string = new Date()) {
    this.#ms = new Date(start).getTime();
  }

  now(): Date {
    return new Date(this.#ms);
  }

  advance(ms: number): void {
    this.#ms += ms;
  }
}

export const minutes = (n: number) => n * 60_000;
