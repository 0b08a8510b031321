#!/usr/bin/env node
/**
 * The `sessionmesh` command: look into, and act on, the sessions in a store.
 *
 *   sessionmesh list | show ID | revoke ID|--principal P | stats | ring --nodes … | migrate
 *
 * Exit codes: 0 ok, 1 usage, 2 store unavailable, 3 not found (docs/CLI.md).
 */
import { realpathSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { Command, CommanderError, Option } from 'commander'
import { ConfigurationError, MissingDependencyError, SessionMeshError, StoreUnavailableError } from '../core/errors.js'
import { list } from './commands/list.js'
import { migrate } from './commands/migrate.js'
import { revoke } from './commands/revoke.js'
import { ring } from './commands/ring.js'
import { show } from './commands/show.js'
import { stats } from './commands/stats.js'
import { CliError, EXIT } from './errors.js'
import { terminalSafe, terminalSafeJson } from './terminal.js'
import type { GlobalOptions } from './store.js'

/**
 * The program, with every command. Exported for tests and for embedding in another CLI.
 *
 * @example
 * await buildProgram().parseAsync(['node', 'sessionmesh', 'stats', '--store', 'sessions.db'])
 */
export function buildProgram(): Command {
  const program = new Command('sessionmesh')
    .description('Inspect and manage sessionmesh sessions in a SQLite file or Redis')
    .version('0.1.0')
    .addOption(new Option('--store <store>', 'SQLite file path or redis://host:port URL').env('SESSIONMESH_STORE'))
    .option('--prefix <prefix>', 'Redis key prefix (default sessionmesh:) or SQLite table prefix (default sessionmesh)')
    .option('--layout <layout>', 'Redis layout: sessionmesh (default) or spring-session')
    .option('--timeout <duration>', 'longest wait for the store to answer the first time', '5s')
    .option('--json', 'machine-readable output on stdout')
    .option('--no-progress', 'no progress output on stderr')
    .showHelpAfterError()
    .exitOverride()
  const globals = (cmd: Command) => cmd.optsWithGlobals<GlobalOptions>()

  program
    .command('list')
    .description('live sessions: id (redacted), principal, times, attribute names (never values)')
    .option('--principal <principal>', "only this user's sessions")
    .option('--limit <n>', 'at most this many (0: all)', '50')
    .option('--show-ids', 'print whole session ids (they are credentials)')
    .action((opts: Parameters<typeof list>[0], cmd: Command) => list(opts, globals(cmd)))

  program
    .command('show')
    .description('one session with its attributes decoded as JSON')
    .argument('<id>', 'session id (or a signed token id.mac)')
    .option('--keys <env-var>', 'name of an environment variable holding the encryption keys')
    .option('--show-ids', 'print the whole session id')
    .action((id: string, opts: Parameters<typeof show>[1], cmd: Command) => show(id, opts, globals(cmd)))

  program
    .command('revoke')
    .description('end one session, or every session of a principal')
    .argument('[id]', 'session id')
    .option('--principal <principal>', 'end every session of this user')
    .action((id: string | undefined, opts: Parameters<typeof revoke>[1], cmd: Command) => revoke(id, opts, globals(cmd)))

  program
    .command('stats')
    .description('live count, top principals, attribute size distribution, sessions expiring soon')
    .option('--top <n>', 'how many principals to list', '10')
    .action((opts: Parameters<typeof stats>[0], cmd: Command) => stats(opts, globals(cmd)))

  program
    .command('ring')
    .description('how a HashRing over these nodes splits sample ids, or the live sessions of --store')
    .requiredOption('--nodes <nodes>', 'node ids, comma-separated, each with an optional :weight (a,b,c:2)')
    .option('--vnodes <n>', 'points per unit of weight (default 1000)')
    .option('--sample <n>', 'random ids to place (default 100000 without a store)')
    .option('--seed <n>', 'hash seed')
    .action((opts: Parameters<typeof ring>[0], cmd: Command) => ring(opts, globals(cmd)))

  program
    .command('migrate')
    .description('copy express-session + connect-redis sessions into the store, keeping their ids')
    .option('--from <url>', 'the Redis connect-redis wrote to (default: --store when it is Redis)')
    .option('--from-prefix <prefix>', "connect-redis' key prefix", 'sess:')
    .option('--principal-path <path>', 'dot path of the principal in the old data, e.g. user.name')
    .option('--idle-timeout <duration>', "the app's idleTimeout", '30m')
    .option('--absolute-timeout <duration>', "the app's absoluteTimeout", '12h')
    .option('--max-size <bytes>', "the app's maxSize", '65536')
    .option('--keys <env-var>', 'environment variable with the encryption keys, to seal values as the app does')
    .option('--delete-source', 'delete each old record once its copy is stored')
    .option('--batch <n>', 'records read per round trip', '200')
    .option('--dry-run', 'report what would be copied; change nothing')
    .action((opts: Parameters<typeof migrate>[0], cmd: Command) => migrate(opts, globals(cmd)))

  return program
}

/** The exit code for a failure (docs/CLI.md). */
export function exitCodeOf(e: unknown): number {
  if (e instanceof CliError) return e.exitCode
  if (e instanceof StoreUnavailableError || e instanceof MissingDependencyError) return EXIT.storeUnavailable
  if (e instanceof ConfigurationError) return EXIT.usage
  if (e instanceof CommanderError) return e.exitCode === 0 ? EXIT.ok : EXIT.usage
  return EXIT.usage
}

/**
 * Runs the CLI on `argv` and returns the exit code; never throws, never prints a stack trace
 * (set SESSIONMESH_DEBUG=1 for one).
 *
 * @example
 * process.exitCode = await main(process.argv)
 */
export async function main(argv: string[]): Promise<number> {
  const json = argv.includes('--json')
  try {
    await buildProgram().parseAsync(argv)
    return EXIT.ok
  } catch (e) {
    // Commander has printed its own message (and help) already.
    if (e instanceof CommanderError) return exitCodeOf(e)
    const code = exitCodeOf(e)
    const message = e instanceof Error ? e.message : String(e)
    const errorCode = e instanceof SessionMeshError ? e.code : 'ERROR'
    // A message can quote what the store or the user gave (a principal, a file name): escaped like every output.
    if (json) process.stderr.write(`${terminalSafeJson(JSON.stringify({ error: { code: errorCode, message, exitCode: code } }))}\n`)
    else process.stderr.write(`sessionmesh: ${code === EXIT.storeUnavailable ? 'store unavailable: ' : ''}${terminalSafe(message)}\n`)
    if (process.env.SESSIONMESH_DEBUG && e instanceof Error) process.stderr.write(`${e.stack ?? ''}\n`)
    return code
  }
}

/** True when this file is the program being run (not imported by a test or another tool). */
function isEntry(): boolean {
  const entry = process.argv[1]
  if (!entry) return false
  try {
    return realpathSync(entry) === realpathSync(fileURLToPath(import.meta.url))
  } catch {
    return false
  }
}

if (isEntry()) {
  process.exitCode = await main(process.argv)
  // A client library that keeps a socket or timer open must not keep a finished command
  // running; unref'd, so a clean exit is not delayed by it.
  setTimeout(() => process.exit(), 1000).unref()
}
