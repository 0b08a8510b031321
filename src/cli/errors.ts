import { SessionMeshError } from '../core/errors.js'

/**
 * Errors only the command line raises. Each carries the exit code it ends the process
 * with, so `index.ts` maps failures to exit codes in one place.
 *
 * @example
 * throw new CliUsageError('give an id or --principal, not both')   // exit 1
 * throw new CliNotFoundError('no live session Ab3dE9…')            // exit 3
 */
export abstract class CliError extends SessionMeshError {
  abstract readonly exitCode: number
}

/** The command line itself is wrong (a missing argument, a bad number, no store given): exit 1. */
export class CliUsageError extends CliError {
  readonly code = 'CLI_USAGE'
  readonly exitCode = 1
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options)
  }
}

/** What the command was pointed at does not exist (an unknown or expired session id): exit 3. */
export class CliNotFoundError extends CliError {
  readonly code = 'CLI_NOT_FOUND'
  readonly exitCode = 3
  constructor(message: string) {
    super(message)
  }
}

/** Exit codes, as docs/CLI.md lists them. */
export const EXIT = { ok: 0, usage: 1, storeUnavailable: 2, notFound: 3 } as const
