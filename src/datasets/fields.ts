/** Field readers shared by the schemas: what counts as present, and how ids become strings. */

/** A non-blank string, as given; undefined for anything else (missing, null, "", "  ", a number). */
export function text(value: unknown): string | undefined {
  return typeof value === "string" && value.trim() !== "" ? value : undefined;
}

/** An id as a string (JSON number, CSV text, Parquet INT64); undefined when missing or blank. */
export function idText(value: unknown): string | undefined {
  if (typeof value === "string") return value.trim() === "" ? undefined : value.trim();
  if (typeof value === "number" && Number.isFinite(value)) return String(value);
  if (typeof value === "bigint") return value.toString();
  return undefined;
}

/** `{ [key]: value }` when the value is present, else `{}`: spreads optional fields without writing undefined. */
export function optional<K extends string, V>(key: K, value: V | undefined): Partial<Record<K, V>> {
  return value === undefined ? {} : ({ [key]: value } as Record<K, V>);
}
