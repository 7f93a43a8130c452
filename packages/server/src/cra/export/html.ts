/** Renders a JSON document as plain, self-contained HTML (every value escaped). */
const escapeHtml = (s: string) =>
  s.replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]!);

function render(value: unknown): string {
  if (value === null || value === undefined) return "<em>—</em>";
  if (Array.isArray(value))
    return value.length === 0
      ? "<em>none</em>"
      : `<ol>${value.map((v) => `<li>${render(v)}</li>`).join("")}</ol>`;
  if (typeof value === "object")
    return `<dl>${Object.entries(value as Record<string, unknown>)
      .map(([k, v]) => `<dt>${escapeHtml(k)}</dt><dd>${render(v)}</dd>`)
      .join("")}</dl>`;
  return escapeHtml(String(value));
}

export function toHtml(title: string, doc: unknown): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(title)}</title>
<style>body{font-family:sans-serif;max-width:60em;margin:2em auto}dt{font-weight:bold;margin-top:.4em}dd{margin-left:1.5em}</style>
</head><body><h1>${escapeHtml(title)}</h1>${render(doc)}</body></html>
`;
}
