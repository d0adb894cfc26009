/** Real-shaped OpenSSH public key lines for tests (ed25519 from Node's crypto; others built by field). */
import { generateKeyPairSync } from 'node:crypto';

const sshString = (b: Buffer | string): Buffer => {
  const body = typeof b === 'string' ? Buffer.from(b, 'latin1') : b;
  const len = Buffer.alloc(4);
  len.writeUInt32BE(body.length);
  return Buffer.concat([len, body]);
};

export const blob = (...fields: Array<Buffer | string>): string =>
  Buffer.concat(fields.map(sshString)).toString('base64');

export function ed25519(comment = 'owner@laptop'): string {
  const { publicKey } = generateKeyPairSync('ed25519');
  const raw = Buffer.from(publicKey.export({ format: 'jwk' }).x as string, 'base64url');
  return `ssh-ed25519 ${blob('ssh-ed25519', raw)}${comment ? ` ${comment}` : ''}`;
}

export function rsa(comment = 'rsa@desk'): string {
  const { publicKey } = generateKeyPairSync('rsa', { modulusLength: 1024 });
  const jwk = publicKey.export({ format: 'jwk' });
  const mpint = (b64: string): Buffer => {
    const b = Buffer.from(b64, 'base64url');
    return (b[0] as number) & 0x80 ? Buffer.concat([Buffer.from([0]), b]) : b;
  };
  return `ssh-rsa ${blob('ssh-rsa', mpint(jwk.e as string), mpint(jwk.n as string))} ${comment}`;
}
