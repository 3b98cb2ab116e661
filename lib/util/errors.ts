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
  // A file-system error that no command turned into a UserError still reads as one.
  if (isFsError(err)) err = fsUserError(err);
  if (err instanceof UserError) {
    return `error: ${err.message}` + (err.hint ? `\n  hint: ${err.hint}` : '');
  }
  if (err instanceof Error) return err.stack ?? `${err.name}: ${err.message}`;
  return `error: ${String(err)}`;
}

/** What an errno code means for the person at the keyboard, and what to do about it. */
const FS_CODES: Record<string, { meaning: string; hint: string }> = {
  ENOENT: { meaning: 'does not exist', hint: 'check the path' },
  EACCES: { meaning: 'permission denied', hint: 'choose a path you may write to, or change its permissions' },
  EPERM: { meaning: 'operation not permitted', hint: 'choose a path you may write to, or change its permissions' },
  EROFS: { meaning: 'is on a read-only file system', hint: 'choose a path on a writable disk' },
  ENOSPC: { meaning: 'no space left on the device', hint: 'free space on that disk (or choose another one) and run the command again' },
  EDQUOT: { meaning: 'disk quota exceeded', hint: 'free space within your quota (or choose another disk) and run the command again' },
  EISDIR: { meaning: 'is a folder, not a file', hint: 'give a file path' },
  ENOTDIR: { meaning: 'a part of the path is a file, not a folder', hint: 'check the path' },
  EEXIST: { meaning: 'already exists', hint: 'choose another path' },
  ENOTEMPTY: { meaning: 'is not empty', hint: 'choose an empty folder' },
  EMFILE: { meaning: 'too many open files', hint: 'raise the open-file limit (ulimit -n)' },
  EIO: { meaning: 'input/output error', hint: 'check the disk' },
  ENAMETOOLONG: { meaning: 'the name is too long', hint: 'use a shorter path' },
  EBUSY: { meaning: 'is busy', hint: 'close the program that uses it and try again' },
};

/** Node's file-system errors carry `code` and usually `syscall` and `path`. */
export function isFsError(err: unknown): err is NodeJS.ErrnoException {
  return err instanceof Error && typeof (err as NodeJS.ErrnoException).code === 'string' && (err as NodeJS.ErrnoException).code! in FS_CODES;
}

/**
 * A file-system error as a UserError: "<what>: <path> <meaning>". `what` says what was being done
 * ("cannot write the checkpoint"); `hint` replaces the generic hint for the code.
 */
export function fsUserError(err: NodeJS.ErrnoException, what?: string, hint?: string): UserError {
  const known = FS_CODES[err.code ?? ''];
  const dest = (err as { dest?: string }).dest;
  const where = err.path ? `${err.path}${dest ? ` -> ${dest}` : ''}` : '';
  const body = `${where ? where + ': ' : ''}${known?.meaning ?? err.message}`;
  return new UserError(what ? `${what}: ${body}` : body, hint ?? known?.hint);
}
