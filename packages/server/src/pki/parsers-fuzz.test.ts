import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { describe, it } from "node:test";
import { buildOcspRequest, certIdFor, OcspError, parseOcspRequest } from "@bulwark/sdk/ocsp/request";
import { generateKeyPair, spkiOf } from "@bulwark/sdk/x509/algorithms";
import { buildCsr, CsrError, parseCsr, verifyCsr } from "@bulwark/sdk/x509/csr";
import { subjectAltName } from "@bulwark/sdk/x509/extensions";
import { commonNameOnly } from "@bulwark/sdk/x509/name";

/** A small deterministic PRNG (mulberry32) so a failing mutation can be replayed from its seed. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** One structural mutation: bit flip, byte overwrite, truncation, insertion, deletion, or a length-octet tweak. */
function mutate(input: Buffer, rand: () => number): Buffer {
  const out = Buffer.from(input);
  const at = Math.floor(rand() * out.length);
  switch (Math.floor(rand() * 6)) {
    case 0:
      out[at]! ^= 1 << Math.floor(rand() * 8);
      return out;
    case 1:
      out[at] = Math.floor(rand() * 256);
      return out;
    case 2:
      return out.subarray(0, at);
    case 3:
      return Buffer.concat([out.subarray(0, at), Buffer.from([Math.floor(rand() * 256)]), out.subarray(at)]);
    case 4:
      return Buffer.concat([out.subarray(0, at), out.subarray(at + 1 + Math.floor(rand() * 8))]);
    default:
      // Length octets are where DER parsers usually break: force long forms and huge values.
      out[at] = [0x80, 0x81, 0x82, 0x84, 0xff, 0x7f][Math.floor(rand() * 6)]!;
      return out;
  }
}

const ROUNDS = 60_000;

describe("parser fuzzing (issue #4: ≥ 100,000 mutated CSRs and OCSP requests, no crash or hang)", () => {
  it(`${ROUNDS} mutated CSRs: every input parses or throws CsrError`, () => {
    const seeds = (["ecdsa-p256", "ecdsa-p384", "ml-dsa-44"] as const).map((algorithm) => {
      const keys = generateKeyPair(algorithm);
      return buildCsr({
        subjectDer: commonNameOnly("fuzz"),
        algorithm,
        ...keys,
        extensions: [subjectAltName({ uris: ["urn:uuid:00000000-0000-4000-8000-000000000000"] })],
      });
    });
    const rand = prng(0xc5a);
    const outcomes = { parsed: 0, refused: 0, verified: 0 };
    for (let i = 0; i < ROUNDS; i++) {
      let input = seeds[i % seeds.length]!;
      for (let n = 1 + Math.floor(rand() * 3); n > 0; n--) input = mutate(input, rand);
      try {
        const csr = parseCsr(input);
        outcomes.parsed++;
        if (verifyCsr(csr)) outcomes.verified++;
      } catch (error) {
        if (!(error instanceof CsrError))
          assert.fail(`round ${i}: ${(error as Error).stack} for ${input.toString("hex")}`);
        outcomes.refused++;
      }
    }
    assert.equal(outcomes.parsed + outcomes.refused, ROUNDS);
    assert.ok(outcomes.refused > ROUNDS / 2, JSON.stringify(outcomes));
    assert.throws(() => parseCsr(Buffer.alloc(70 * 1024, 0x30)), CsrError);
  });

  it(`${ROUNDS} mutated OCSP requests: every input parses or throws OcspError`, () => {
    const issuer = generateKeyPair("ecdsa-p256");
    const name = commonNameOnly("Fuzz CA");
    const id = (serial: string, hash: "sha1" | "sha256") =>
      certIdFor(name, spkiOf(issuer.publicKey), serial, hash);
    const seeds = [
      buildOcspRequest([id("0102030405060708", "sha1")], randomBytes(16)),
      buildOcspRequest([id("7f00aa", "sha256"), id("01", "sha1")]),
    ];
    const rand = prng(0x0c5);
    let parsed = 0;
    for (let i = 0; i < ROUNDS; i++) {
      let input = seeds[i % seeds.length]!;
      for (let n = 1 + Math.floor(rand() * 3); n > 0; n--) input = mutate(input, rand);
      try {
        parseOcspRequest(input);
        parsed++;
      } catch (error) {
        if (!(error instanceof OcspError))
          assert.fail(`round ${i}: ${(error as Error).stack} for ${input.toString("hex")}`);
      }
    }
    assert.ok(parsed < ROUNDS);
  });
});
