import type { AdvisoryHead } from "../advisory-store.ts";
import { csafFileName, PROVIDER_METADATA, WHITE_DIRECTORY, yearOf } from "./naming.ts";

/**
 * The trusted-provider distribution of CSAF 2.0 §7.1 built from the stored advisories: the
 * provider metadata (requirement 7), the directory files (11–14) and the ROLIE documents (15–17).
 * Pure functions of the rows and the public base URL; routes serve them.
 */

/** Requirement 15: one ROLIE feed per TLP label; Bulwark publishes TLP:WHITE only. */
export const WHITE_FEED = "/.well-known/csaf/feed-tlp-white.json";
/** Requirement 16: the service document, next to provider-metadata.json (where csaf_checker looks). */
export const ROLIE_SERVICE = "/.well-known/csaf/service.json";
/** Requirement 17: the feed's category document, next to the feed (`category-<tlp>.json`). */
export const WHITE_CATEGORIES = "/.well-known/csaf/category-white.json";

const ROLIE_INFORMATION_TYPE = { scheme: "urn:ietf:params:rolie:category:information-type", term: "csaf" };
// RFC 8322 §6.1.2: a category scheme is a URI; these name the CSAF 2.0 fields the terms come from.
const SCHEME_DOCUMENT_CATEGORY =
  "https://docs.oasis-open.org/csaf/csaf/v2.0/csaf-v2.0.html#3216-document-property---category";
const SCHEME_PRODUCT_NAME =
  "https://docs.oasis-open.org/csaf/csaf/v2.0/csaf-v2.0.html#3223-branches-type---category";
const CSAF_SCHEMA = "https://docs.oasis-open.org/csaf/csaf/v2.0/csaf_json_schema.json";

export const pathOf = (a: Pick<AdvisoryHead, "published_at" | "tracking_id">) =>
  `${yearOf(Number(a.published_at))}/${csafFileName(a.tracking_id)}`;

export interface Parsed {
  row: AdvisoryHead;
  path: string;
  title: string;
  category: string;
  summary: string | undefined;
  products: string[];
  initial: string;
  current: string;
}

type Branch = { category?: string; name?: string; branches?: Branch[] };
const productNames = (branches: Branch[] | undefined): string[] =>
  (branches ?? []).flatMap((b) => [
    ...(b.category === "product_name" && b.name ? [b.name] : []),
    ...productNames(b.branches),
  ]);

/** What the distribution needs from a stored document (its own dates, title, products). */
export function parseAdvisory(row: AdvisoryHead, document: string): Parsed {
  const doc = JSON.parse(document) as {
    document: {
      title: string;
      category: string;
      notes?: { category: string; text: string }[];
      tracking: { initial_release_date: string; current_release_date: string };
    };
    product_tree?: { branches?: Branch[] };
  };
  return {
    row,
    path: pathOf(row),
    title: doc.document.title,
    category: doc.document.category,
    summary: doc.document.notes?.find((n) => n.category === "summary")?.text,
    products: [...new Set(productNames(doc.product_tree?.branches))],
    initial: doc.document.tracking.initial_release_date,
    current: doc.document.tracking.current_release_date,
  };
}

/** Newest `current_release_date` first (requirement 13), ties by path for a stable order. */
export const byCurrentDesc = (a: Parsed, b: Parsed) =>
  Date.parse(b.current) - Date.parse(a.current) || (a.path < b.path ? -1 : a.path > b.path ? 1 : 0);

export interface Provider {
  name: string;
  namespace: string;
}

/**
 * Requirement 7 (the provider schema), 9 (at /.well-known/csaf/), 15 (the ROLIE feed named in
 * `distributions[].rolie.feeds`), 11–14 (`distributions[].directory_url`), 20 (the public key).
 * Deterministic for a given set of advisories: csaf_checker compares the copy named in
 * security.txt with the well-known one byte for byte.
 */
export function providerMetadata(
  base: string,
  provider: Provider,
  advisories: readonly Parsed[],
  key: { fingerprint: string } | undefined,
) {
  const url = (path: string) => new URL(path, base).href;
  const newest = [...advisories].sort(byCurrentDesc)[0];
  return {
    canonical_url: url(PROVIDER_METADATA),
    distributions: [
      { directory_url: url(WHITE_DIRECTORY) },
      {
        rolie: {
          categories: [url(WHITE_CATEGORIES)],
          feeds: [
            {
              summary: `All TLP:WHITE advisories of ${provider.name}.`,
              tlp_label: "WHITE",
              url: url(WHITE_FEED),
            },
          ],
          services: [url(ROLIE_SERVICE)],
        },
      },
    ],
    last_updated: newest?.current ?? new Date(0).toISOString(),
    list_on_CSAF_aggregators: true,
    metadata_version: "2.0",
    mirror_on_CSAF_aggregators: true,
    public_openpgp_keys: key
      ? [{ fingerprint: key.fingerprint, url: url(`/.well-known/csaf/openpgp/${key.fingerprint}.asc`) }]
      : [],
    publisher: { category: "vendor", name: provider.name, namespace: provider.namespace },
    role: "csaf_trusted_provider",
  };
}

/**
 * Requirement 15: the TLP:WHITE ROLIE feed (RFC 8322 JSON form, CSAF 2.0 example 130): every
 * advisory with its document, `.sha512` (rel `hash`) and `.asc` (rel `signature`) links, newest first.
 */
export function whiteFeed(base: string, provider: Provider, advisories: readonly Parsed[]) {
  const url = (path: string) => new URL(path, base).href;
  const sorted = [...advisories].sort(byCurrentDesc);
  return {
    feed: {
      id: "bulwark-csaf-feed-tlp-white",
      title: `${provider.name} CSAF feed (TLP:WHITE)`,
      link: [{ rel: "self", href: url(WHITE_FEED) }],
      category: [ROLIE_INFORMATION_TYPE],
      updated: sorted[0]?.current ?? new Date(0).toISOString(),
      entry: sorted.map((a) => {
        const href = url(`${WHITE_DIRECTORY}${a.path}`);
        return {
          id: a.row.tracking_id,
          title: a.title,
          link: [
            { rel: "self", href },
            { rel: "hash", href: `${href}.sha512` },
            ...(a.row.signature ? [{ rel: "signature", href: `${href}.asc` }] : []),
          ],
          published: a.initial,
          updated: a.current,
          // RFC 8322 §6.2.2 / RFC 4287 §4.2.2: categories of the entry (requirement 17's criteria).
          category: [
            ROLIE_INFORMATION_TYPE,
            { scheme: SCHEME_DOCUMENT_CATEGORY, term: a.category },
            ...a.products.map((term) => ({ scheme: SCHEME_PRODUCT_NAME, term })),
          ],
          ...(a.summary ? { summary: { content: a.summary } } : {}),
          content: { type: "application/json", src: href },
          format: { schema: CSAF_SCHEMA, version: "2.0" },
        };
      }),
    },
  };
}

/** Requirement 16: the ROLIE service document listing the feeds (CSAF 2.0 example 131). */
export function rolieService(base: string, provider: Provider) {
  return {
    service: {
      workspace: [
        {
          title: `${provider.name} public CSAF feeds`,
          collection: [
            {
              title: `${provider.name} CSAF feed (TLP:WHITE)`,
              href: new URL(WHITE_FEED, base).href,
              categories: { category: [ROLIE_INFORMATION_TYPE] },
            },
          ],
        },
      ],
    },
  };
}

/**
 * Requirement 17: the category document of the TLP:WHITE feed (CSAF 2.0 example 134): the document
 * categories and product names its entries carry, so a consumer can dissect the feed.
 */
export function rolieCategories(advisories: readonly Parsed[]) {
  const terms = [
    ...[...new Set(advisories.map((a) => a.category))]
      .sort()
      .map((term) => ({ scheme: SCHEME_DOCUMENT_CATEGORY, term })),
    ...[...new Set(advisories.flatMap((a) => a.products))]
      .sort()
      .map((term) => ({ scheme: SCHEME_PRODUCT_NAME, term })),
  ];
  return { categories: { category: terms } };
}

/** Requirement 12: every document path relative to the directory, newest first. */
export const indexTxt = (advisories: readonly Parsed[]) =>
  [...advisories]
    .sort(byCurrentDesc)
    .map((a) => `${a.path}\n`)
    .join("");

/** Requirement 13: `"path","current_release_date"`, no heading, latest first. */
export const changesCsv = (advisories: readonly Parsed[]) =>
  [...advisories]
    .sort(byCurrentDesc)
    .map((a) => `"${a.path}","${a.current}"\n`)
    .join("");

const htmlEscape = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/**
 * Requirement 14: a directory listing (an HTML page of links, as a web server's autoindex), for the
 * TLP:WHITE directory (its year folders and files) and for each year folder (its documents with
 * their hash and signature files). Links are relative to the listed directory.
 */
export function directoryListing(path: string, entries: readonly string[]): string {
  const links = entries.map((e) => `<li><a href="${htmlEscape(e)}">${htmlEscape(e)}</a></li>`).join("\n");
  return `<!DOCTYPE html>
<html lang="en">
<head><meta charset="utf-8"><title>Index of ${htmlEscape(path)}</title></head>
<body>
<h1>Index of ${htmlEscape(path)}</h1>
<ul>
<li><a href="../">../</a></li>
${links}
</ul>
</body>
</html>
`;
}

/** The entries of the TLP:WHITE directory (`year` undefined) or of one year folder. */
export function listingEntries(advisories: readonly Parsed[], year?: string): string[] | undefined {
  if (year === undefined)
    return [
      ...[...new Set(advisories.map((a) => a.path.split("/")[0]!))].sort().map((y) => `${y}/`),
      "changes.csv",
      "index.txt",
    ];
  const files = advisories
    .filter((a) => a.path.startsWith(`${year}/`))
    .map((a) => a.path.slice(year.length + 1))
    .sort();
  if (!files.length) return undefined;
  const signed = new Set(advisories.filter((a) => a.row.signature).map((a) => a.path.slice(year.length + 1)));
  return files.flatMap((f) =>
    [f, `${f}.asc`, `${f}.sha512`].filter((x) => !x.endsWith(".asc") || signed.has(f)),
  );
}
