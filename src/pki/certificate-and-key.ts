/** A certificate and its private key, both PEM: how they travel in config documents. */
export interface CertificateAndKey {
  readonly crt: string;
  readonly key: string;
}

export const YEAR_MS = 365 * 24 * 60 * 60 * 1000;

/** Lifetimes: CAs 10 years, leaf certificates (client, server, peer) 1 year. */
export const caValidity = 10 * YEAR_MS;
export const leafValidity = YEAR_MS;

/** Certificates start a little in the past so that a peer whose clock lags accepts them. */
export const clockSkewAllowance = 5 * 60 * 1000;

/** A positive random serial number of 16 bytes, as hex. */
export function randomSerialNumber(): string {
  const bytes = globalThis.crypto.getRandomValues(new Uint8Array(16));
  bytes[0] = (bytes[0]! & 0x7f) | 0x01;
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

export function checkName(action: string, field: string, value: string): string {
  if (typeof value !== "string" || value === "") {
    throw new TypeError(
      `Cannot ${action}: '${field}' must be a non-empty string, current value is ${JSON.stringify(value)}`,
    );
  }
  return value;
}

export function checkValidity(action: string, validity: number): number {
  if (!Number.isFinite(validity) || validity <= 0) {
    throw new RangeError(`Cannot ${action}: 'validity' must be > 0 ms, current value is ${validity}`);
  }
  return validity;
}
