// The sink's bounded in-memory buffer. Pure state, no I/O: the shell offers items (never blocks, never
// throws), takes the head as a batch to send, and commits it when the broker acknowledged it. Items in
// flight stay in the buffer, so the bound holds for everything not yet acknowledged. When an item would
// exceed the bound it is dropped and counted: the capture is never slowed by the broker.

export interface BufferItem {
  readonly topic: string;
  readonly key: string;
  /** A record's JSON text (encoded to bytes once per message, when packed) or a raw message's bytes. */
  readonly value: Buffer | string;
  readonly headers?: Readonly<Record<string, string>>;
}

export interface BufferCounts {
  /** Everything offered: always published + dropped + buffered. */
  readonly offered: number;
  /** Offered and dropped because the buffer was full. */
  readonly dropped: number;
  readonly droppedBytes: number;
  /** Acknowledged by the broker. */
  readonly published: number;
  /** Held now (including the batch in flight). */
  readonly buffered: number;
  readonly bufferedBytes: number;
}

/** The counts of one key (records of one pod of one capture). */
export interface KeyCounts {
  offered: number;
  published: number;
  dropped: number;
}

export class BoundedBuffer {
  private items: BufferItem[] = [];
  /** size() of each item, computed once when offered (parallel to items). */
  private sizes: number[] = [];
  private readonly keys = new Map<string, KeyCounts>();
  private head = 0;
  private bytes = 0;
  private offered = 0;
  private dropped = 0;
  private droppedBytes = 0;
  private published = 0;

  constructor(
    readonly maxRecords: number,
    readonly maxBytes: number,
  ) {}

  /** Bytes an item holds: its value's and key's UTF-8 bytes. */
  static size(item: BufferItem): number {
    return (typeof item.value === 'string' ? Buffer.byteLength(item.value) : item.value.length) + Buffer.byteLength(item.key);
  }

  /** Keeps the item if it fits in the bound; otherwise drops and counts it. Returns whether it was kept. */
  offer(item: BufferItem): boolean {
    const size = BoundedBuffer.size(item);
    this.offered++;
    const k = this.keyCounts(item.key);
    k.offered++;
    if (this.length + 1 > this.maxRecords || this.bytes + size > this.maxBytes) {
      this.dropped++;
      this.droppedBytes += size;
      k.dropped++;
      return false;
    }
    this.items.push(item);
    this.sizes.push(size);
    this.bytes += size;
    return true;
  }

  get length(): number {
    return this.items.length - this.head;
  }

  /** The next batch (oldest first, at most maxRecords items and maxBytes bytes, at least one), not removed. */
  peek(maxRecords: number, maxBytes = Number.MAX_SAFE_INTEGER): readonly BufferItem[] {
    const out: BufferItem[] = [];
    let b = 0;
    for (let i = this.head; i < this.items.length && out.length < maxRecords; i++) {
      const s = this.sizes[i]!;
      if (out.length > 0 && b + s > maxBytes) break;
      out.push(this.items[i]!);
      b += s;
    }
    return out;
  }

  /** The broker acknowledged the first n items: remove them. */
  commit(n: number): void {
    const end = Math.min(this.head + n, this.items.length);
    // runs of one key (a packed message's records) cost one map lookup
    let key: string | undefined;
    let k: KeyCounts | undefined;
    for (let i = this.head; i < end; i++) {
      const it = this.items[i]!;
      this.bytes -= this.sizes[i]!;
      if (it.key !== key) k = this.keyCounts((key = it.key));
      k!.published++;
    }
    this.published += end - this.head;
    this.head = end;
    this.compact();
  }

  private compact(): void {
    if (this.head > 4096 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.sizes = this.sizes.slice(this.head);
      this.head = 0;
    }
  }

  /** Counts an item offered but lost before it reached the buffer (unserialisable, oversize). */
  countDrop(bytes: number, key?: string): void {
    this.offered++;
    if (key !== undefined) this.keyCounts(key).offered++;
    this.drop(bytes, key);
  }

  private drop(bytes: number, key?: string): void {
    this.dropped++;
    this.droppedBytes += bytes;
    if (key !== undefined) this.keyCounts(key).dropped++;
  }

  private keyCounts(key: string): KeyCounts {
    let k = this.keys.get(key);
    if (k === undefined) this.keys.set(key, (k = { offered: 0, published: 0, dropped: 0 }));
    return k;
  }

  /** The counts of one key so far (zeros if never offered). */
  countsOf(key: string): Readonly<KeyCounts> {
    return { ...(this.keys.get(key) ?? { offered: 0, published: 0, dropped: 0 }) };
  }

  /** Forgets a key's counts (its capture ended and reported them). */
  forgetKey(key: string): void {
    this.keys.delete(key);
  }

  /** The first n items can never be published (too large for the broker): remove them as dropped. */
  dropHead(n: number): void {
    const end = Math.min(this.head + n, this.items.length);
    for (let i = this.head; i < end; i++) {
      const size = this.sizes[i]!;
      this.bytes -= size;
      this.drop(size, this.items[i]!.key);
    }
    this.head = end;
    this.compact();
  }

  /** At close: whatever was never acknowledged is lost; count it as dropped. */
  dropRemaining(): void {
    for (let i = this.head; i < this.items.length; i++) this.drop(this.sizes[i]!, this.items[i]!.key);
    this.items = [];
    this.sizes = [];
    this.head = 0;
    this.bytes = 0;
  }

  counts(): BufferCounts {
    return {
      offered: this.offered,
      dropped: this.dropped,
      droppedBytes: this.droppedBytes,
      published: this.published,
      buffered: this.length,
      bufferedBytes: this.bytes,
    };
  }
}
