import { spawn } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { findPeer } from '../../test/helpers/peer.js';
/** The nginx binary (the baseline of `npm run bench -- delivery`): Debian's, or `OUTPOST_BENCH_NGINX`. */
export function nginxPeer() {
  return findPeer('nginx', 'OUTPOST_BENCH_NGINX', '/usr/sbin/nginx', 'apt-get install nginx-light');
}
/** A free loopback port (listened on, then released). */
export async function freePort() {
  const server = createServer();
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;
  await new Promise((resolve) => server.close(() => resolve()));
  return port;
}
/**
 * Starts nginx in the foreground (`daemon off`) with a generated config in `workDir`: one
 * worker per core, sendfile, no access log, serving the files of `root` on a free port.
 * Resolves once it answers HTTP.
 */
export async function startNginx(bin, workDir, root) {
  const port = await freePort();
  await mkdir(join(workDir, 'body'), { recursive: true });
  const conf = join(workDir, 'nginx.conf');
  const temp = (name) => join(workDir, name);
  await writeFile(
    conf,
    `daemon off;
worker_processes auto;
${process.getuid?.() === 0 ? 'user root;' : ''}
pid ${temp('nginx.pid')};
error_log ${temp('error.log')} warn;
events { worker_connections 4096; }
http {
  access_log off;
  sendfile on;
  tcp_nopush on;
  client_body_temp_path ${temp('body')};
  proxy_temp_path ${temp('proxy')};
  fastcgi_temp_path ${temp('fastcgi')};
  uwsgi_temp_path ${temp('uwsgi')};
  scgi_temp_path ${temp('scgi')};
  default_type application/octet-stream;
  server {
    listen 127.0.0.1:${port};
    root ${root};
    location / { }
  }
}
`,
  );
  const child = spawn(bin, ['-c', conf, '-p', workDir], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr?.on('data', (d) => {
    stderr += d.toString();
  });
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 10_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`nginx exited with ${child.exitCode}: ${stderr}`);
    try {
      await fetch(`${url}/`).then((r) => r.arrayBuffer());
      break;
    } catch {
      if (Date.now() > deadline) throw new Error(`nginx did not answer on ${url}: ${stderr}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
  return {
    url,
    stop: () =>
      new Promise((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGQUIT');
      }),
  };
}
//# sourceMappingURL=nginx.js.map
