// Integration tests connect to the native infrastructure that `native/infra.sh up` started and
// described in native/.run/env. Values already in the environment win (CI may point elsewhere).
const { readFileSync, existsSync } = require('node:fs');
const { join } = require('node:path');

const file = process.env.PLATFORM_ENV_FILE || join(__dirname, '../../native/.run/env');
if (!existsSync(file)) {
  throw new Error(`${file} not found: start the infrastructure with "bash native/infra.sh up" first`);
}
for (const line of readFileSync(file, 'utf8').split('\n')) {
  const m = /^([A-Z0-9_]+)=(.*)$/.exec(line.trim());
  if (m && process.env[m[1]] === undefined) process.env[m[1]] = m[2];
}
