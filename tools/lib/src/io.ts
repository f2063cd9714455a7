/**
 * The streams a tool's `main(argv, io)` reads and writes: the process's own when run as a
 * command (bin.ts, the multi-call bundle), a test's in-memory ones otherwise. stdout carries
 * data only; stderr diagnostics. Progress (progress.ts) goes to the process's stderr.
 */
export interface Io {
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
  stdin: NodeJS.ReadableStream;
}
