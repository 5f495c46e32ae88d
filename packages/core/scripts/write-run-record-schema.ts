// Writes packages/core/run-record.schema.json from RunRecordSchema (run-record.ts).
import { writeFileSync } from 'node:fs';
import { runRecordJsonSchema } from '../src/run-record.js';

writeFileSync(new URL('../run-record.schema.json', import.meta.url), JSON.stringify(runRecordJsonSchema(), null, 2) + '\n');
