import { z } from "zod";
import { describeCertificate } from "../pki/certificate-info.ts";
import { fromBase64 } from "../pki/encoding.ts";
import { privateKeyAlgorithm } from "../pki/keys.ts";
import { decodePemBlocks } from "../pki/pem.ts";
import { parseDuration } from "./duration.ts";
import { parseIp, parsePrefix } from "./net/ip.ts";

/** Field schemas shared by several document kinds. Messages say what was expected. */

export const apiVersion = "v1alpha1";

export function ipAddress() {
  return z
    .string()
    .refine((v) => parseIp(v) !== undefined, { message: "expected an IP address like 10.5.0.2 or fd00::2" })
    .meta({ examples: ["10.5.0.2", "fd00::2"] });
}

export function ipPrefix() {
  return z
    .string()
    .refine((v) => parsePrefix(v) !== undefined, {
      message:
        "expected an IP prefix (CIDR) like 10.5.0.2/24 or fd00::2/64, with a length that fits the family",
    })
    .meta({ examples: ["10.5.0.2/24", "fd00::2/64"] });
}

export function url(schemes: readonly string[] = ["https", "http"]) {
  return z
    .string()
    .refine(
      (v) => {
        if (!URL.canParse(v)) return false;
        const u = new URL(v);
        return schemes.includes(u.protocol.slice(0, -1)) && u.hostname !== "";
      },
      { message: `expected a URL with a host, scheme ${schemes.join(" or ")}, like https://10.5.0.2:6443` },
    )
    .meta({ format: "uri" });
}

const pathSegments = /^\/(?:[^/\0]+(?:\/[^/\0]+)*)?$/;

export function absolutePath() {
  return z
    .string()
    .refine((v) => pathSegments.test(v) && !v.split("/").some((s) => s === "." || s === ".."), {
      message: "expected an absolute, normalized path like /etc/motd (no '.', '..', '//' or trailing '/')",
    })
    .meta({ pattern: "^/" });
}

export function duration() {
  return z
    .string()
    .refine((v) => (parseDuration(v) ?? 0) > 0, {
      message: "expected a positive duration like 500ms, 10s, 1m30s or 24h",
    })
    .meta({ pattern: "^([0-9]+(\\.[0-9]+)?(ns|us|µs|ms|s|m|h))+$" });
}

export function port() {
  return z.number().int().min(1).max(65535);
}

const dnsLabel = "[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?";
const dnsNamePattern = new RegExp(`^(?=.{1,253}$)${dnsLabel}(?:\\.${dnsLabel})*\\.?$`);

/** A host or domain name by RFC 1123: dot-separated labels of letters, digits and inner hyphens. */
export function dnsName() {
  return z
    .string()
    .regex(dnsNamePattern, { message: "expected a DNS name like node-1 or node-1.example.com (RFC 1123)" });
}

/** An IP address or a DNS name, e.g. a certificate SAN. */
export function hostOrIp() {
  return z.string().refine((v) => parseIp(v) !== undefined || dnsNamePattern.test(v), {
    message: "expected an IP address or a DNS name",
  });
}

/** Names of documents that repeat and of things Linux names: links, routes, services. */
export function linkName() {
  return z.string().regex(/^(?!\.\.?$)[^\s/:]{1,15}$/, {
    message: "expected a Linux link name: 1 to 15 characters, no spaces, '/' or ':'",
  });
}

export function objectName() {
  return z.string().regex(/^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/, {
    message: "expected a name of lower-case letters, digits and inner hyphens, at most 63 characters",
  });
}

/** File modes: 0o644 in YAML, 420, or the strings "0644" / "0o644"; always stored as a number. */
export function fileMode() {
  return z
    .unknown()
    .transform((v, ctx) => {
      let mode: number | undefined;
      if (typeof v === "number" && Number.isInteger(v)) mode = v;
      else if (typeof v === "string" && /^0?o?[0-7]{1,4}$/.test(v))
        mode = Number.parseInt(v.replace("o", ""), 8);
      if (mode === undefined || mode < 0 || mode > 0o7777) {
        ctx.issues.push({
          code: "custom",
          message: 'expected a file mode from 0 to 0o7777: 0o644, 420 or "0644"',
          input: v,
        });
        return z.NEVER;
      }
      return mode;
    })
    .meta({
      anyOf: [
        { type: "integer", minimum: 0, maximum: 0o7777 },
        { type: "string", pattern: "^0?o?[0-7]{1,4}$" },
      ],
    });
}

function isCertificate(pem: string): boolean {
  try {
    describeCertificate(pem);
    return true;
  } catch {
    return false;
  }
}

export function certificatePem() {
  return z
    .string()
    .refine(isCertificate, { message: "expected one PEM certificate (-----BEGIN CERTIFICATE-----)" });
}

export function privateKeyPem() {
  return z.string().refine(
    (v) => {
      const blocks = decodePemBlocks(v);
      return (
        blocks.length === 1 && blocks[0]!.label === "PRIVATE KEY" && !!privateKeyAlgorithm(blocks[0]!.der)
      );
    },
    { message: "expected one Ed25519 or ECDSA P-256 PKCS#8 PEM private key (-----BEGIN PRIVATE KEY-----)" },
  );
}

/** A CA certificate with its key where the machine may sign (control planes only). */
export function certificateAuthority(what: string) {
  return z.strictObject({
    crt: certificatePem().describe(`the ${what} CA certificate, PEM`),
    key: privateKeyPem()
      .optional()
      .describe(`the ${what} CA private key, PKCS#8 PEM; control planes only, never on workers`),
  });
}

export function certificateAndKey(what: string) {
  return z.strictObject({
    crt: certificatePem().describe(`the ${what} certificate, PEM`),
    key: privateKeyPem().describe(`the ${what} private key, PKCS#8 PEM`),
  });
}

export function clusterId() {
  return z.string().regex(/^[A-Za-z0-9_-]{16,256}$/, {
    message: "expected a URL-safe id of 16 to 256 characters (letters, digits, '-' and '_')",
  });
}

export function clusterSecret() {
  return z.string().refine((v) => fromBase64(v)?.length === 32, {
    message: "expected 32 bytes, base64-encoded (44 characters ending in '=')",
  });
}

export function bootstrapToken() {
  return z.string().regex(/^[a-z0-9]{6}\.[a-z0-9]{16}$/, {
    message:
      "expected a bootstrap token like abcdef.0123456789abcdef (6 and 16 lower-case letters or digits)",
  });
}
