// Compiles the services and the libs they use with swc (decorator metadata on, tsconfig path
// aliases rewritten to relative requires) into dist/, preserving the tree. Typechecking is
// `npm run typecheck`; this is only the emit.
import { transformFile } from '@swc/core';
import { mkdir, readdir, rm, writeFile } from 'node:fs/promises';
import { dirname, join, relative, resolve } from 'node:path';
import { readFileSync } from 'node:fs';

const root = resolve(dirname(new URL(import.meta.url).pathname), '..');
const out = join(root, 'dist');
const tsconfig = JSON.parse(readFileSync(join(root, 'tsconfig.base.json'), 'utf8'));
const paths = tsconfig.compilerOptions.paths;

async function* walk(dir) {
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const p = join(dir, entry.name);
    if (entry.isDirectory()) {
      if (['node_modules', 'fixtures', 'lint-fixtures'].includes(entry.name)) continue;
      yield* walk(p);
    } else if (
      entry.name.endsWith('.ts') &&
      !entry.name.endsWith('.spec.ts') &&
      !entry.name.endsWith('.int-spec.ts') &&
      !entry.name.endsWith('.d.ts')
    ) {
      yield p;
    }
  }
}

async function compile(file) {
  const { code, map } = await transformFile(file, {
    swcrc: false,
    sourceMaps: true,
    module: { type: 'commonjs', strictMode: true },
    jsc: {
      target: 'es2022',
      baseUrl: root,
      paths,
      parser: { syntax: 'typescript', decorators: true },
      transform: { legacyDecorator: true, decoratorMetadata: true },
      keepClassNames: true,
    },
  });
  const target = join(out, relative(root, file)).replace(/\.ts$/, '.js');
  await mkdir(dirname(target), { recursive: true });
  await writeFile(target, `${code}\n//# sourceMappingURL=${target.split('/').pop()}.map\n`);
  if (map) await writeFile(`${target}.map`, map);
}

const dirs = ['libs', 'services'].map((d) => join(root, d));
await rm(out, { recursive: true, force: true });
let n = 0;
for (const dir of dirs) {
  for await (const file of walk(dir)) {
    await compile(file);
    n++;
  }
}
process.stdout.write(`built ${n} files into ${relative(root, out)}/\n`);
