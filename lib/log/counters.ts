/**
 * The name → index map of each names list, shared by every group made from the same list (e.g.
 * one per ESP SA: about 1 KB saved per group).
 */
const INDEXES = new WeakMap<readonly string[], Map<string, number>>();

function indexOfNames<Name extends string>(names: readonly Name[]): Map<Name, number> {
  let index = INDEXES.get(names);
  if (index === undefined) {
    index = new Map(names.map((n, i) => [n, i]));
    INDEXES.set(names, index);
  }
  return index as Map<Name, number>;
}

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

  /**
   * `values` (at least `names.length` long) backs the counters instead of a private array, e.g.
   * a view into a SharedArrayBuffer that another thread reads with {@link SummedCounters}.
   */
  constructor(names: readonly Name[], values?: Float64Array) {
    this.names = names;
    if (values !== undefined && values.length < names.length) {
      throw new RangeError(
        `Cannot create counters: ${values.length} values for ${names.length} names`,
      );
    }
    this.#values = values ?? new Float64Array(names.length);
    this.#index = indexOfNames(names);
  }

  /** The index of `name` in the backing array. */
  indexOf(name: Name): number {
    return this.#index.get(name)!;
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

/**
 * A read view that sums the same counter group kept in several arrays, one per writer (e.g. one
 * per data-plane worker, in a SharedArrayBuffer): each writer adds only to its own array, so no
 * update is ever lost and nothing needs atomics. `add` goes to the first array (the reader's
 * own).
 *
 * @example
 * ```ts
 * const shared = new Float64Array(new SharedArrayBuffer(3 * 2 * 8));
 * const slices = [0, 1, 2].map((i) => shared.subarray(i * 2, i * 2 + 2));
 * const view = new SummedCounters(["a", "b"] as const, slices);
 * new Counters(["a", "b"] as const, slices[1]).add("a"); // in a worker
 * view.get("a"); // 1
 * ```
 */
export class SummedCounters<Name extends string> extends Counters<Name> {
  readonly #slices: readonly Float64Array[];

  constructor(names: readonly Name[], slices: readonly Float64Array[]) {
    if (slices.length === 0) throw new RangeError("Cannot sum counters: no arrays");
    super(names, slices[0]);
    this.#slices = slices;
  }

  override get(name: Name): number {
    const i = this.indexOf(name);
    let sum = 0;
    for (const slice of this.#slices) sum += slice[i]!;
    return sum;
  }

  override snapshot(): Record<Name, number> {
    const out = {} as Record<Name, number>;
    for (const name of this.names) out[name] = this.get(name);
    return out;
  }
}
