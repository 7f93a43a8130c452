/** An RFC 9457 problem document as the server sends it (packages/sdk/src/errors.ts `toProblem`). */
export interface Problem {
  code?: string;
  title?: string;
  detail?: string;
  status?: number;
}

/** What the user typed for a field of a request body or query, and the unit of its number. */
export interface OptionWords {
  option: string;
  unit?: string;
}

// The fields whose option is not simply the field in kebab case (`maxUses` is `--max-uses`).
const OPTIONS: Record<string, OptionWords> = {
  ttlSeconds: { option: "--ttl", unit: "seconds" },
  expiresInDays: { option: "--expires-in-days", unit: "days" },
  validityDays: { option: "--validity-days", unit: "days" },
  renewalWindowDays: { option: "--renewal-window-days", unit: "days" },
  impactStatement: { option: "--impact" },
  actionStatement: { option: "--action" },
  productId: { option: "--product" },
  userId: { option: "--user" },
  serialNumber: { option: "SERIAL" },
  username: { option: "NAME" },
  version: { option: "VERSION" },
  label: { option: "LABEL" },
  settings: { option: "the settings file" },
};

const kebab = (field: string) => `--${field.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;

/** Per command, the fields typed as something else (`group create NAME` sends `name`). */
export type FieldWords = Record<string, OptionWords>;

function wordsFor(field: string, context: string, own: FieldWords): OptionWords {
  // Path parameters are the command's positional arguments (ID, SERIAL, NAME).
  if (context === "params") return own[field] ?? { option: field.toUpperCase() };
  return own[field] ?? OPTIONS[field] ?? { option: kebab(field) };
}

/**
 * One validation failure of Fastify's schema check ("body/ttlSeconds must be >= 60", "body must
 * have required property 'group'", "querystring/limit must be <= 1000") in the CLI's words
 * ("--ttl must be at least 60 seconds"); undefined when the text is not one.
 */
export function validationInWords(detail: string, own: FieldWords = {}): string | undefined {
  const match = /^(body|querystring|params|headers) (?:\1\/([\w/]+) )?(must .*)$/.exec(detail);
  if (!match) return undefined;
  const [, context = "", path = "", rule = ""] = match;
  const required = /^must have required property '(\w+)'$/.exec(rule);
  if (required) return `${wordsFor(required[1]!, context, own).option} is required`;
  const field = path.split("/").filter(Boolean)[0];
  if (!field)
    return rule === "must NOT have additional properties" ? "an option is not accepted here" : undefined;
  const { option, unit } = wordsFor(field, context, own);
  const suffix = unit ? ` ${unit}` : "";
  const bound = /^must be (>=|<=|>|<) (-?[\d.]+)$/.exec(rule);
  if (bound) {
    const words = { ">=": "at least", "<=": "at most", ">": "more than", "<": "less than" }[bound[1]!];
    const n = Number(bound[2]);
    const shown = Number.isInteger(n) ? String(n) : String(Number(n.toPrecision(3)));
    return `${option} must be ${words} ${shown}${n === 1 ? suffix.replace(/s$/, "") : suffix}`;
  }
  const length = /^must NOT have (fewer|more) than (\d+) (characters|items)$/.exec(rule);
  if (length) {
    if (length[1] === "fewer" && length[2] === "1") return `${option} must not be empty`;
    return `${option} must have ${length[1] === "fewer" ? "at least" : "at most"} ${length[2]} ${length[3]}`;
  }
  if (rule === "must be integer") return `${option} must be a whole number${suffix ? ` of${suffix}` : ""}`;
  if (rule === "must be number") return `${option} must be a number`;
  if (rule === "must be equal to one of the allowed values")
    return `${option} is not one of the allowed values`;
  if (rule.startsWith("must match pattern")) return `${option} is not in the expected form`;
  return `${option} ${rule}`;
}

/** A problem as one line: validation failures in the CLI's words, anything else as the server said it. */
export function problemLine(problem: Problem, own: FieldWords = {}): string {
  const detail = problem.detail ?? problem.title ?? "the server refused the request";
  if (problem.code === "BW_ERR_VALIDATION") {
    const parts = detail
      .split(/, (?=(?:body|querystring|params|headers)\b)/)
      .map((part) => validationInWords(part, own));
    if (parts.every((p) => p !== undefined)) return `${parts.join("; ")} (${problem.code})`;
  }
  return `${detail}${problem.code ? ` (${problem.code})` : ""}`;
}
