#!/usr/bin/env -S node --max-semi-space-size=4 --max-old-space-size=1024
// The `hookrelay` command (src/cli/program.ts says what it does).
import { hookrelayProgram } from './program.ts';

await hookrelayProgram().parseAsync();
