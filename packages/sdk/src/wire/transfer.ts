/**
 * Secure transfer of a device's data to its replacement, driven by the server in three signed
 * commands on the devices' `cmd` topics and three reports on `jobs/{transferId}/status`:
 *
 *   server → NEW  transfer-prepare   NEW makes a one-time X-Wing key pair for this transfer
 *   NEW → server  transfer-key       its public key
 *   server → OLD  transfer-export    OLD seals its data to that key (HPKE, `@bulwark/sdk/kem`)
 *                                    and signs the envelope with its device key (`@bulwark/sdk/sign`)
 *   OLD → server  transfer-exported  envelope + signature + OLD's certificate chain
 *   server → NEW  transfer-import    the same, relayed; NEW checks the
 *                                    chain to its pinned root, OLD's id in it, the signature, then opens
 *   NEW → server  transfer-imported  how many records it took in
 *
 * The server only relays: the envelope opens with NEW's secret key alone, and OLD's signature
 * binds the transfer id and both device ids, so neither the server nor anyone on the way can
 * read the data, swap it, or replay it into another transfer.
 */
export type TransferCommand =
  | {
      type: "transfer-prepare";
      deviceId: string;
      transferId: string;
      sourceId: string;
      /**
       * When the recipient erases its one-time key if the transfer has not imported by then (ms since
       * the epoch): past the transfer's last possible deadline. Absent from servers before it: the
       * key is then kept until the import or a reset.
       */
      keyExpiresAt?: number;
      issuedAt: number;
    }
  | {
      type: "transfer-export";
      deviceId: string;
      transferId: string;
      recipientId: string;
      /** The recipient's X-Wing public key for this transfer, base64 (1216 bytes). */
      recipientKey: string;
      issuedAt: number;
    }
  | {
      type: "transfer-import";
      deviceId: string;
      transferId: string;
      sourceId: string;
      envelope: string;
      signature: string;
      algorithm: string;
      /** OLD's certificate and its issuing CA, base64 DER. */
      sourceChain: string[];
      issuedAt: number;
    };

export type TransferStatus =
  | { state: "transfer-key"; transferId: string; publicKey: string }
  | {
      state: "transfer-exported";
      transferId: string;
      envelope: string;
      signature: string;
      algorithm: string;
      /** The source's certificate and its issuing CA, base64 DER: the recipient checks them against its own pinned root. */
      chain: string[];
    }
  | { state: "transfer-imported"; transferId: string; records: number }
  | { state: "transfer-failed"; transferId: string; reason: string };

/** The data that travels: the source's state records and its queued events, by name. */
export interface TransferPayload {
  format: "bulwark-transfer";
  version: 1;
  state: Record<string, string>;
  queue: Record<string, string>;
}

const ID = /^[a-z0-9-]{1,64}$/;
const UUID = /^[0-9a-f-]{36}$/;
const B64 = /^[A-Za-z0-9+/]*={0,2}$/;
/** A device publishes at most 64 KiB a packet (the broker's limit): the envelope fits well inside. */
export const MAX_TRANSFER_ENVELOPE_BYTES = 28 * 1024;
const MAX_B64 = Math.ceil(MAX_TRANSFER_ENVELOPE_BYTES / 3) * 4;

const str = (v: unknown, re: RegExp, max = 256): v is string =>
  typeof v === "string" && v.length <= max && re.test(v);

const isChain = (v: unknown): v is string[] =>
  Array.isArray(v) && v.length >= 1 && v.length <= 2 && v.every((d) => str(d, B64, 16_384));

export function isTransferCommand(v: unknown): v is TransferCommand {
  if (typeof v !== "object" || v === null) return false;
  const c = v as Record<string, unknown>;
  if (!str(c.deviceId, UUID) || !str(c.transferId, ID) || typeof c.issuedAt !== "number") return false;
  switch (c.type) {
    case "transfer-prepare":
      return (
        str(c.sourceId, UUID) &&
        (c.keyExpiresAt === undefined ||
          (Number.isSafeInteger(c.keyExpiresAt) && (c.keyExpiresAt as number) > 0))
      );
    case "transfer-export":
      return str(c.recipientId, UUID) && str(c.recipientKey, B64, 4096);
    case "transfer-import":
      return (
        str(c.sourceId, UUID) &&
        str(c.envelope, B64, MAX_B64) &&
        str(c.signature, B64, 16_384) &&
        str(c.algorithm, /^[a-z0-9-]{1,32}$/) &&
        isChain(c.sourceChain)
      );
    default:
      return false;
  }
}

export function isTransferStatus(v: unknown, transferId: string): v is TransferStatus {
  if (typeof v !== "object" || v === null) return false;
  const s = v as Record<string, unknown>;
  if (s.transferId !== transferId) return false;
  switch (s.state) {
    case "transfer-key":
      return str(s.publicKey, B64, 4096);
    case "transfer-exported":
      return (
        str(s.envelope, B64, MAX_B64) &&
        str(s.signature, B64, 16_384) &&
        str(s.algorithm, /^[a-z0-9-]{1,32}$/) &&
        isChain(s.chain)
      );
    case "transfer-imported":
      return typeof s.records === "number" && Number.isInteger(s.records) && s.records >= 0;
    case "transfer-failed":
      return typeof s.reason === "string" && s.reason.length <= 256;
    default:
      return false;
  }
}

/** Associated data of the envelope: what it is, for which transfer, from whom, to whom. */
export const transferAad = (transferId: string, sourceId: string, recipientId: string): Buffer =>
  Buffer.from(`bulwark/transfer/v1/${transferId}/${sourceId}/${recipientId}`, "utf8");

/** What the source signs: the same binding, then the envelope. */
export const transferSignedMessage = (
  transferId: string,
  sourceId: string,
  recipientId: string,
  envelope: Uint8Array,
): Buffer => Buffer.concat([transferAad(transferId, sourceId, recipientId), Buffer.from([0]), envelope]);
