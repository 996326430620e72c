// Checks that `npm pack` puts exactly what a user needs into the tarball: the module, its types, the manifest, the
// readme and the licence (no tests, no lock file, no TypeScript check files). Run by test.sh: `npm run check:pack`.
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const expected = ['LICENSE', 'README.md', 'client.d.ts', 'client.js', 'package.json'];
const root = fileURLToPath(new URL('..', import.meta.url));
const output = execFileSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: root, encoding: 'utf8' });
const [pack] = JSON.parse(output);
const files = pack.files.map(f => f.path).sort();
if (JSON.stringify(files) !== JSON.stringify(expected)) {
  console.error(`npm pack would ship ${JSON.stringify(files)}, expected exactly ${JSON.stringify(expected)}`);
  process.exit(1);
}
console.log(`npm pack: ${pack.filename} holds ${files.join(', ')} (${pack.size} bytes packed)`);
