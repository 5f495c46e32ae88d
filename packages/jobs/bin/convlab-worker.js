#!/usr/bin/env node
import { runEntry } from '../../../scripts/ts-entry.mjs';
await runEntry(new URL('../src/worker-cli.ts', import.meta.url).href);
