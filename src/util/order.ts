/** Code-unit order (not locale order), so sorted output is the same on every machine. */
export function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Sorts in place by a string key (computed once per item) and returns the array. */
export function sortByKey<T>(items: T[], key: (item: T) => string): T[] {
  const keys = new Map(items.map((item) => [item, key(item)]));
  return items.sort((a, b) => compareText(keys.get(a)!, keys.get(b)!));
}
