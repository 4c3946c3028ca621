import { execFileSync } from 'node:child_process';

// Certificates made with openssl for the TLS tests: a CA, the hub's server
// certificate for 127.0.0.1/localhost, and one device certificate per CN (CN = device id).

const openssl = (dir: string, ...args: string[]) =>
  execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });

/**
 * Writes into `dir`: `ca.crt`/`ca.key`, `server.crt`/`server.key` (SAN IP:127.0.0.1,
 * DNS:localhost) and `{cn}.crt`/`{cn}.key` for each device CN, all signed by the CA (2 days).
 */
export function makeCertificates(dir: string, cns: string[]): void {
  openssl(
    dir,
    'req',
    '-x509',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-keyout',
    'ca.key',
    '-out',
    'ca.crt',
    '-days',
    '2',
    '-subj',
    '/CN=outpost-test-ca',
  );
  const sign = (name: string, cn: string, ext?: string) => {
    openssl(
      dir,
      'req',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-keyout',
      `${name}.key`,
      '-out',
      `${name}.csr`,
      '-subj',
      `/CN=${cn}`,
    );
    const extArgs = ext ? ['-extfile', ext] : [];
    openssl(
      dir,
      'x509',
      '-req',
      '-in',
      `${name}.csr`,
      '-CA',
      'ca.crt',
      '-CAkey',
      'ca.key',
      '-CAcreateserial',
      '-out',
      `${name}.crt`,
      '-days',
      '2',
      ...extArgs,
    );
  };
  execFileSync('sh', ['-c', 'printf "subjectAltName=IP:127.0.0.1,DNS:localhost\\n" > san.ext'], { cwd: dir });
  sign('server', '127.0.0.1', 'san.ext');
  for (const cn of cns) sign(cn, cn);
}
