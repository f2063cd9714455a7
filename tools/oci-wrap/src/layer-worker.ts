/** Worker thread: writes the layers it is given (see layer.ts). */
import { parentPort } from 'node:worker_threads';
import { ToolError } from '@debian-atomic/lib';
import { writeLayer, type LayerJob } from './layer.js';

parentPort!.on('message', (job: LayerJob) => {
  writeLayer(job).then(
    (result) => parentPort!.postMessage({ ok: true, result }),
    (err: unknown) =>
      parentPort!.postMessage({
        ok: false,
        error: {
          code: err instanceof ToolError ? err.code : undefined,
          message: err instanceof ToolError ? err.summary : String((err as Error)?.message ?? err),
        },
      }),
  );
});
