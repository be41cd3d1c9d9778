/** HTML pieces every section of report.html uses. */

const ENTITIES: Record<string, string> = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ENTITIES[c] ?? c);
}

/** A table with column headers (`head` is markup: callers escape what they put in). */
export function tableHtml(head: readonly string[], rows: readonly string[], caption?: string): string {
  return [
    '<div class="table-wrap"><table>',
    caption ? `<caption>${caption}</caption>` : "",
    `<thead><tr>${head.map((h) => `<th scope="col">${h}</th>`).join("")}</tr></thead>`,
    `<tbody>\n${rows.join("\n")}\n</tbody>`,
    "</table></div>",
  ].filter(Boolean).join("\n");
}

export function numCell(html: string, className?: string, title?: string): string {
  return `<td class="num${className ? ` ${className}` : ""}"${title ? ` title="${escapeHtml(title)}"` : ""}>${html}</td>`;
}

/** "slugs" for ids: letters, digits and dashes. */
export function idOf(text: string): string {
  return text.replace(/[^A-Za-z0-9_-]+/g, "-");
}
