// The `hookrelay` command's body (src/cli/program.ts says what it does); bin/hookrelay.js starts it.
import { hookrelayProgram } from './program.ts';

await hookrelayProgram().parseAsync();
