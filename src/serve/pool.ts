/**
 * Works through `items` in order with `size` workers: worker `slot` takes the next item as soon as it is free, so
 * `size` items are in work at once and each knows its slot (a server's {gpu}). An item's failure is its work's
 * to record: a throw stops the taking of new items and is rethrown once the items in work have ended.
 */
export async function runPool<T>(items: readonly T[], size: number, work: (item: T, slot: number) => Promise<void>, stop?: AbortSignal): Promise<void> {
  const queue = [...items];
  let failed: { error: unknown } | undefined;
  const worker = async (slot: number) => {
    for (let item = queue.shift(); item !== undefined && !failed && !stop?.aborted; item = queue.shift()) {
      try {
        await work(item, slot);
      } catch (error) {
        failed ??= { error };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(size, items.length)) }, (_, slot) => worker(slot)));
  if (failed) throw failed.error;
}
