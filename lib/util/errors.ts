/**
 * Errors meant for the person running the tool: what is wrong and what to do about it.
 * The CLI prints `UserError`s without a stack trace; anything else is a bug and keeps its stack.
 */
export class UserError extends Error {
  /** A short instruction, e.g. "reduce --batch to 2". */
  readonly hint?: string;
  constructor(message: string, hint?: string) {
    super(message);
    this.name = 'UserError';
    this.hint = hint;
  }
}

export function formatError(err: unknown): string {
  if (err instanceof UserError) {
    return `error: ${err.message}` + (err.hint ? `\n  hint: ${err.hint}` : '');
  }
  if (err instanceof Error) return err.stack ?? `${err.name}: ${err.message}`;
  return `error: ${String(err)}`;
}
