/**
 * Open-addressing hash table from an IPv4 5-tuple (protocol, two addresses, two ports) to a small
 * integer, with the key stored in typed arrays: no string or object is allocated per lookup.
 * Used by the summary's conversation table in its hot path.
 */
export class Ipv4FlowTable {
  private keys: Int32Array;
  private values: Int32Array;
  private mask: number;
  private count = 0;

  constructor(initialCapacity = 1 << 14) {
    let cap = 16;
    while (cap < initialCapacity) cap <<= 1;
    this.keys = new Int32Array(cap * 4);
    this.values = new Int32Array(cap).fill(-1);
    this.mask = cap - 1;
  }

  get size(): number {
    return this.count;
  }

  private static hash(proto: number, a: number, b: number, ports: number): number {
    let h = Math.imul(a ^ 0x9e3779b9, 0x85ebca6b);
    h = Math.imul(h ^ (h >>> 13) ^ b, 0xc2b2ae35);
    h = Math.imul(h ^ (h >>> 16) ^ ports, 0x27d4eb2f);
    h ^= proto;
    return (h ^ (h >>> 15)) >>> 0;
  }

  /** Value for the key, or -1. `ports` = (portA << 16) | portB. */
  get(proto: number, a: number, b: number, ports: number): number {
    const keys = this.keys;
    const mask = this.mask;
    let i = Ipv4FlowTable.hash(proto, a, b, ports) & mask;
    for (;;) {
      const v = this.values[i]!;
      if (v < 0) return -1;
      const k = i * 4;
      if (keys[k] === proto && keys[k + 1] === (a | 0) && keys[k + 2] === (b | 0) && keys[k + 3] === (ports | 0)) return v;
      i = (i + 1) & mask;
    }
  }

  /** Sets the value for the key (inserting or replacing). */
  set(proto: number, a: number, b: number, ports: number, value: number): void {
    if ((this.count + 1) * 2 > this.values.length) this.grow();
    const keys = this.keys;
    const mask = this.mask;
    let i = Ipv4FlowTable.hash(proto, a, b, ports) & mask;
    for (;;) {
      const v = this.values[i]!;
      const k = i * 4;
      if (v < 0) {
        keys[k] = proto;
        keys[k + 1] = a | 0;
        keys[k + 2] = b | 0;
        keys[k + 3] = ports | 0;
        this.values[i] = value;
        this.count++;
        return;
      }
      if (keys[k] === proto && keys[k + 1] === (a | 0) && keys[k + 2] === (b | 0) && keys[k + 3] === (ports | 0)) {
        this.values[i] = value;
        return;
      }
      i = (i + 1) & mask;
    }
  }

  private grow(): void {
    const oldKeys = this.keys;
    const oldValues = this.values;
    const cap = oldValues.length * 2;
    this.keys = new Int32Array(cap * 4);
    this.values = new Int32Array(cap).fill(-1);
    this.mask = cap - 1;
    this.count = 0;
    for (let i = 0; i < oldValues.length; i++) {
      const v = oldValues[i]!;
      if (v >= 0) this.set(oldKeys[i * 4]!, oldKeys[i * 4 + 1]!, oldKeys[i * 4 + 2]!, oldKeys[i * 4 + 3]!, v);
    }
  }
}
