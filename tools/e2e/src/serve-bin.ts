#!/usr/bin/env node
/** `make serve`: serve an OSTree archive repository as static files over HTTP. */
import { resolve } from 'node:path';
import { stat } from 'node:fs/promises';
import { cli, onInterrupt, runTool, usageError } from '@debian-atomic/lib';
import { RepoServer } from './serve.js';

const TOOL = 'serve-repo';

await runTool(TOOL, async () => {
  const argv = await cli(
    TOOL,
    '$0 [--host 127.0.0.1] [--port 8000] DIR\n\nServe an OSTree archive repository (summary, signed commits, static deltas) over HTTP.\nQEMU user networking reaches 127.0.0.1 of the host as 10.0.2.2. Logs each request with its bytes on stderr.',
  )
    .option('host', { type: 'string', default: '127.0.0.1', describe: 'Address to listen on' })
    .option('port', { type: 'number', default: 8000, describe: 'Port (0: any free port)' })
    .demandCommand(1, 1, 'DIR is required', 'exactly one DIR')
    .parseAsync();
  const dir = resolve(String(argv._[0]));
  if (!(await stat(`${dir}/config`).catch(() => null)))
    throw usageError(`${dir}: not an OSTree repository (no config file)`);
  const server = new RepoServer(dir);
  const port = await server.listen(argv.port, argv.host);
  process.stderr.write(
    `${TOOL}: serving ${dir} at http://${argv.host}:${port}/ (from a QEMU guest: http://10.0.2.2:${port}/)\n`,
  );
  let seen = 0;
  setInterval(() => {
    for (const r of server.requests.slice(seen))
      if (!argv.quiet) process.stderr.write(`${r.status} ${r.bytes} ${r.path}\n`);
    seen = server.requests.length;
  }, 500).unref();
  onInterrupt(async () => {
    await server.close();
    process.stderr.write(`${TOOL}: ${server.requests.length} requests, ${server.bytes} bytes\n`);
  });
  return new Promise<number>(() => undefined); // serves until interrupted (exit 130)
});
