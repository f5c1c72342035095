/**
 * The limits of the public discovery service, kept identical so that a client that works against
 * one works against the other. Sizes are bytes (UTF-8 for ids), as the wire carries them.
 */
export const discoveryLimits = Object.freeze({
  clusterIdMaxBytes: 256,
  affiliateIdMaxBytes: 256,
  affiliateDataMaxBytes: 2048,
  endpointMaxBytes: 32,
  endpointsPerAffiliate: 64,
  affiliatesPerCluster: 1024,
  ttlMaxMs: 30 * 60_000,
});

/** Per client IP: tokens per second and bucket size. */
export const defaultRateLimit = Object.freeze({ perSecond: 15, burst: 60 });
