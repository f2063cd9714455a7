/** Progress on stderr for long stages: only on a TTY and when not --quiet. */
export class Progress {
  private readonly enabled: boolean;
  private readonly started = Date.now();

  constructor(
    private readonly tool: string,
    opts: { quiet?: boolean; stream?: NodeJS.WriteStream } = {},
  ) {
    this.stream = opts.stream ?? process.stderr;
    this.enabled = !opts.quiet && Boolean(this.stream.isTTY);
  }

  private readonly stream: NodeJS.WriteStream;

  get active(): boolean {
    return this.enabled;
  }

  /** A named step of the stage, with the elapsed time. */
  step(message: string): void {
    if (!this.enabled) return;
    const secs = ((Date.now() - this.started) / 1000).toFixed(1);
    this.stream.write(`${this.tool}: [${secs}s] ${message}\n`);
  }
}

/** Warnings and notes always go to stderr (never stdout), unless quiet. */
export function warn(
  tool: string,
  message: string,
  quiet = false,
  stream: NodeJS.WritableStream = process.stderr,
): void {
  if (!quiet) stream.write(`${tool}: warning: ${message}\n`);
}
