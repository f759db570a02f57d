import type { ObjectStore } from '../../store/objects.ts';

/** A store that passes everything through to `inner`, counting puts per key; subclasses act before a put. */
export class Interposed implements ObjectStore {
  readonly puts = new Map<string, number>();
  constructor(protected readonly inner: ObjectStore) {}
  get location() {
    return this.inner.location;
  }
  protected async beforePut(_key: string): Promise<void> {}
  async put(key: string, body: Uint8Array | string, contentType?: string) {
    this.puts.set(key, (this.puts.get(key) ?? 0) + 1);
    await this.beforePut(key);
    await this.inner.put(key, body, contentType);
  }
  get(key: string) {
    return this.inner.get(key);
  }
  exists(key: string) {
    return this.inner.exists(key);
  }
  list(prefix: string) {
    return this.inner.list(prefix);
  }
  listFolders(folder: string) {
    return this.inner.listFolders(folder);
  }
  delete(key: string) {
    return this.inner.delete(key);
  }
}

/** A store whose first put of `failKey` fails, as an outage would. */
export class OutageOnce extends Interposed {
  failures = 0;
  constructor(
    inner: ObjectStore,
    private readonly failKey: string,
  ) {
    super(inner);
  }
  protected override async beforePut(key: string): Promise<void> {
    if (key === this.failKey && this.failures === 0) {
      this.failures += 1;
      throw new Error(`injected outage writing ${key}`);
    }
  }
}

/** A store whose put of `gateKey` waits until `release()`: a shard held mid-batch, on demand. */
export class Gate extends Interposed {
  private open!: () => void;
  private readonly opened = new Promise<void>((r) => (this.open = r));
  private arrived!: () => void;
  readonly reached = new Promise<void>((r) => (this.arrived = r));
  constructor(
    inner: ObjectStore,
    private readonly gateKey: string,
  ) {
    super(inner);
  }
  release() {
    this.open();
  }
  protected override async beforePut(key: string): Promise<void> {
    if (key === this.gateKey) {
      this.arrived();
      await this.opened;
    }
  }
}
