/** Identity contract: a peer is its root key (DESIGN "Identity and trust"). */
export interface Identity {
  /** Peer id: base32(SHA-256(SPKI DER)) with check characters, grouped (e.g. `ABCDEFG-…`). */
  readonly peerId: string;
  /** First group of the peer id, for logs. */
  readonly shortId: string;
  readonly rootCertPem: string;
  /** Private key PEM: never logged, never exported. */
  readonly rootKeyPem: string;
  readonly notBefore: Date;
  readonly notAfter: Date;
}

export interface IdentityDeps {
  now: () => number;
  logger: import('../core/logger.js').Logger;
}

export interface IdentityInit {
  dataDir: string;
}

/** An RSA key pair as PEM: SPKI public key, PKCS#8 private key. */
export interface KeyPairPem {
  readonly publicKeyPem: string;
  readonly privateKeyPem: string;
}

/** Input of the pure root-certificate builder. */
export interface RootCertificateInit extends KeyPairPem {
  /** Milliseconds since the epoch (may be 1970 on a Pi without RTC). */
  now: number;
  /** Subject CN; defaults to the peer id of the public key. */
  commonName?: string;
  /** basicConstraints pathLenConstraint; default ROOT_PATH_LEN. */
  pathLen?: number;
}
