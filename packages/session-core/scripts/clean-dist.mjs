// Runs before packing: a file left in dist/ by an earlier build of a module since renamed or removed
// would otherwise ship in the tarball, unreachable through `exports` but still published.
import { rmSync } from 'node:fs';

rmSync(new URL('../dist/', import.meta.url), { recursive: true, force: true });
