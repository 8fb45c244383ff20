#!/usr/bin/env -S node --max-semi-space-size=4 --max-old-space-size=1024
// The `hookrelay` command, and the one place that says how Node runs the service: the flags above (README,
// "Memory"). npm start, npx hookrelay, the container image and the test harness all run this file. An installed
// package runs its built JavaScript (dist/); the repository, which has no build, runs its TypeScript sources.
import { existsSync } from 'node:fs';

const source = new URL('../src/cli/main.ts', import.meta.url);
await import(existsSync(source) ? source.href : new URL('../dist/cli/main.js', import.meta.url).href);
