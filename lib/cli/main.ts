/**
 * `npx metaanchor <command>`. Each command lives in lib/cli/commands/<name>.ts and exports
 * `register(program)`; add it to COMMANDS below.
 */
import { Command } from 'commander';
import * as info from './commands/info';
import * as evalCommand from './commands/eval';
import * as data from './commands/data';
import * as trainCommands from './commands/train';
import * as bench from './commands/bench';
import * as tableCommand from './commands/table';
import * as curveCommands from './commands/curve';
import * as analyze from './commands/analyze';
import * as anchors from './commands/anchors';
import * as worker from './commands/worker';

interface CommandModule {
  register(program: Command): void;
}

const COMMANDS: CommandModule[] = [info, evalCommand, analyze, data, anchors, trainCommands, tableCommand, curveCommands, worker, bench];

export function buildProgram(): Command {
  const program = new Command();
  program
    .name('metaanchor')
    .description('MetaAnchor Lab: reproduce and extend "MetaAnchor: Learning to Detect Objects with Customized Anchors"')
    .option(
      '--backend <name>',
      'tfjs backend: gpu | webgpu | node | wasm | cpu (default: first that loads; env METAANCHOR_BACKEND; webgpu on a software adapter needs METAANCHOR_WEBGPU_SOFTWARE=1)',
    )
    .showHelpAfterError();
  program.hook('preAction', (thisCommand) => {
    const backend = thisCommand.opts().backend as string | undefined;
    if (backend) process.env.METAANCHOR_BACKEND = backend;
  });
  for (const mod of COMMANDS) mod.register(program);
  return program;
}

export async function main(argv: string[]): Promise<void> {
  await buildProgram().parseAsync(argv);
}
