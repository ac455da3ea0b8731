/**
 * Named monotonic counters without per-increment allocation: a fixed set of names per
 * counter group, backed by a `Float64Array`.
 *
 * @example
 * ```ts
 * const c = new Counters(["rxDropped", "txPackets"] as const);
 * c.add("rxDropped");
 * c.get("rxDropped"); // 1
 * ```
 */
export class Counters<Name extends string> {
  readonly names: readonly Name[];
  readonly #values: Float64Array;
  readonly #index: Map<Name, number>;

  constructor(names: readonly Name[]) {
    this.names = names;
    this.#values = new Float64Array(names.length);
    this.#index = new Map(names.map((n, i) => [n, i]));
  }

  add(name: Name, n = 1): void {
    this.#values[this.#index.get(name)!]! += n;
  }

  get(name: Name): number {
    return this.#values[this.#index.get(name)!]!;
  }

  /** A plain snapshot for status output. */
  snapshot(): Record<Name, number> {
    const out = {} as Record<Name, number>;
    this.names.forEach((n, i) => (out[n] = this.#values[i]!));
    return out;
  }
}
