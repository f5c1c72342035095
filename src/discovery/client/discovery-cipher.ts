import { createCipheriv, createDecipheriv, randomBytes } from "node:crypto";
import { create, fromBinary, type MessageInitShape, toBinary } from "@bufbuild/protobuf";
import {
  type Affiliate,
  AffiliateSchema,
  type Endpoint,
  EndpointSchema,
} from "../../api/gen/sidero/discovery/client/affiliate_pb.ts";
import { PlinthError } from "../../errors/plinth-error.ts";

// The sealing the public discovery client does, byte for byte, so that records interoperate with
// every node that uses it: the cluster's 32-byte secret is an AES-256 key;
// - an affiliate record (protobuf sidero.discovery.client.Affiliate) is sealed with AES-GCM as
//   12-byte random nonce ‖ ciphertext ‖ 16-byte tag, without additional data;
// - each endpoint (protobuf Endpoint) is sealed on its own and deterministically: one length
//   byte, the message, zeros up to a multiple of the 16-byte block, each block encrypted alone
//   (ECB). The same endpoint reported by two nodes is then the same ciphertext, which lets the
//   server merge duplicates without reading them.

const keyBytes = 32;
const nonceBytes = 12;
const tagBytes = 16;
const block = 16;

export interface DiscoveryCipher {
  sealAffiliate(affiliate: MessageInitShape<typeof AffiliateSchema>): Uint8Array;
  /** invalid_argument when the bytes were not sealed with this key or are not a record. */
  openAffiliate(sealed: Uint8Array): Affiliate;
  sealEndpoint(endpoint: MessageInitShape<typeof EndpointSchema>): Uint8Array;
  /** invalid_argument when the bytes were not sealed with this key or are not an endpoint. */
  openEndpoint(sealed: Uint8Array): Endpoint;
}

export interface DiscoveryCipherOptions {
  /** Nonces for sealAffiliate; random unless given (known-answer tests only). */
  readonly nonce?: () => Uint8Array;
}

/** The cipher of a cluster's discovery records; `key` is the cluster secret's 32 bytes. */
export function createDiscoveryCipher(
  key: Uint8Array,
  options: DiscoveryCipherOptions = {},
): DiscoveryCipher {
  if (!(key instanceof Uint8Array) || key.length !== keyBytes) {
    throw new RangeError(
      `Cannot create the discovery cipher: the key must be ${keyBytes} bytes (the cluster secret), current length is ${key?.length}`,
    );
  }
  const nonceOf = options.nonce ?? (() => randomBytes(nonceBytes));

  function ecb(decrypt: boolean, data: Uint8Array): Buffer {
    const c = decrypt ? createDecipheriv("aes-256-ecb", key, null) : createCipheriv("aes-256-ecb", key, null);
    c.setAutoPadding(false);
    return Buffer.concat([c.update(data), c.final()]);
  }

  return {
    sealAffiliate(affiliate) {
      const nonce = nonceOf();
      if (nonce.length !== nonceBytes) {
        throw new RangeError(
          `Cannot seal an affiliate: the nonce must be ${nonceBytes} bytes, current length is ${nonce.length}`,
        );
      }
      const cipher = createCipheriv("aes-256-gcm", key, nonce);
      const body = cipher.update(toBinary(AffiliateSchema, create(AffiliateSchema, affiliate)));
      return new Uint8Array(Buffer.concat([nonce, body, cipher.final(), cipher.getAuthTag()]));
    },
    openAffiliate(sealed) {
      if (sealed.length < nonceBytes + tagBytes) {
        throw new PlinthError(
          "invalid_argument",
          `cannot open the affiliate record: ${sealed.length} bytes is shorter than a nonce and a tag (${nonceBytes + tagBytes})`,
        );
      }
      let plain: Buffer;
      try {
        const decipher = createDecipheriv("aes-256-gcm", key, sealed.subarray(0, nonceBytes));
        decipher.setAuthTag(sealed.subarray(sealed.length - tagBytes));
        plain = Buffer.concat([
          decipher.update(sealed.subarray(nonceBytes, sealed.length - tagBytes)),
          decipher.final(),
        ]);
      } catch (err) {
        throw new PlinthError(
          "invalid_argument",
          "cannot open the affiliate record: it was not sealed with this cluster's key",
          {
            cause: err,
          },
        );
      }
      try {
        return fromBinary(AffiliateSchema, new Uint8Array(plain));
      } catch (err) {
        throw new PlinthError(
          "invalid_argument",
          `cannot open the affiliate record: ${(err as Error).message}`,
          { cause: err },
        );
      }
    },
    sealEndpoint(endpoint) {
      const message = toBinary(EndpointSchema, create(EndpointSchema, endpoint));
      if (message.length > 255) {
        throw new RangeError(`Cannot seal an endpoint: it encodes to ${message.length} bytes, at most 255`);
      }
      const padded = new Uint8Array(Math.ceil((message.length + 1) / block) * block);
      padded[0] = message.length;
      padded.set(message, 1);
      return new Uint8Array(ecb(false, padded));
    },
    openEndpoint(sealed) {
      if (sealed.length === 0 || sealed.length % block !== 0) {
        throw new PlinthError(
          "invalid_argument",
          `cannot open the endpoint: its length must be a positive multiple of ${block}, current length is ${sealed.length}`,
        );
      }
      const plain = ecb(true, sealed);
      const size = plain[0]!;
      if (size > plain.length - 1) {
        throw new PlinthError(
          "invalid_argument",
          "cannot open the endpoint: it was not sealed with this cluster's key",
        );
      }
      try {
        return fromBinary(EndpointSchema, new Uint8Array(plain.subarray(1, 1 + size)));
      } catch (err) {
        throw new PlinthError("invalid_argument", `cannot open the endpoint: ${(err as Error).message}`, {
          cause: err,
        });
      }
    },
  };
}

/** The discovery key of a cluster: its secret (base64 of 32 bytes, as `gen secrets` writes it) decoded. */
export function discoveryKey(clusterSecret: string): Uint8Array {
  const key = new Uint8Array(Buffer.from(clusterSecret, "base64"));
  if (key.length !== keyBytes || Buffer.from(key).toString("base64") !== clusterSecret.trim()) {
    throw new TypeError(
      `Cannot derive the discovery key: the cluster secret must be ${keyBytes} bytes in base64, current value decodes to ${key.length} bytes`,
    );
  }
  return key;
}
