/**
 * Rows per multi-row INSERT / keys per IN list: well under SQLite's and PostgreSQL's parameter limits
 * (32,766 and 65,535 bound values).
 */
export const BATCH = 400;

export function chunks<T>(items: readonly T[], size = BATCH): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

export const placeholders = (n: number): string => Array.from({ length: n }, () => "?").join(", ");

/**
 * Rewrites the portable `?` placeholders into PostgreSQL's numbered `$n`, leaving any `?` inside
 * a string literal ('…', with '' escapes), a quoted identifier ("…") or a comment untouched.
 */
export function numberPlaceholders(sql: string): string {
  let out = "";
  let n = 0;
  let i = 0;
  while (i < sql.length) {
    const c = sql[i]!;
    const end = skipQuotedOrComment(sql, i);
    if (end > i) {
      out += sql.slice(i, end);
      i = end;
    } else if (c === "?") {
      n += 1;
      out += `$${n}`;
      i += 1;
    } else {
      out += c;
      i += 1;
    }
  }
  return out;
}

/** The index just past a literal, quoted identifier or comment starting at `i`; `i` if none starts there. */
function skipQuotedOrComment(sql: string, i: number): number {
  const c = sql[i];
  if (c === "'" || c === '"') {
    let j = i + 1;
    for (;;) {
      const close = sql.indexOf(c, j);
      if (close < 0) throw new Error(`unterminated ${c === "'" ? "string literal" : "quoted identifier"}`);
      // A doubled quote is an escaped quote inside the literal.
      if (sql[close + 1] === c) j = close + 2;
      else return close + 1;
    }
  }
  if (c === "-" && sql[i + 1] === "-") {
    const eol = sql.indexOf("\n", i);
    return eol < 0 ? sql.length : eol;
  }
  if (c === "/" && sql[i + 1] === "*") {
    const close = sql.indexOf("*/", i + 2);
    if (close < 0) throw new Error("unterminated comment");
    return close + 2;
  }
  return i;
}
