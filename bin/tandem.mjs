#!/usr/bin/env node
// The `tandem` command. The CLI is TypeScript; tsx compiles it on the fly so no build step is needed.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../models/cli/main.ts');
process.exitCode = await main(process.argv);
