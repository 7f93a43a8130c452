/** RFC 7468 textual encodings. */
export function toPem(label: string, der: Uint8Array): string {
  // A view, not a copy (Buffer.from(uint8Array) copies byte by byte; issuance calls this per certificate).
  const b64 = Buffer.from(der.buffer, der.byteOffset, der.byteLength).toString("base64");
  let body = "";
  for (let i = 0; i < b64.length; i += 64) body += `${b64.slice(i, i + 64)}\n`;
  return `-----BEGIN ${label}-----\n${body}-----END ${label}-----\n`;
}

/** Every block with the given label, in order. */
export function fromPemAll(label: string, pem: string): Buffer[] {
  const re = new RegExp(`-----BEGIN ${label}-----([A-Za-z0-9+/=\\s]+?)-----END ${label}-----`, "g");
  return [...pem.matchAll(re)].map((m) => Buffer.from(m[1]!.replace(/\s+/g, ""), "base64"));
}

export function fromPem(label: string, pem: string): Buffer {
  const first = fromPemAll(label, pem)[0];
  if (!first) throw new Error(`no ${label} block found`);
  return first;
}
