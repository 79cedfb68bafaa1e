/**
 * The driver versions the consumer check installs beside the packed tarball. `lowest` must equal the
 * floor of each peer range in package.json and `newest` must sit under its ceiling: check.mjs refuses
 * to run otherwise, so a range never claims a version this check has not run.
 * Raise `newest` when a driver publishes (`npm view ioredis version`); widen a ceiling only with it.
 */
export const drivers = {
  lowest: {
    ioredis: '5.3.0',
    pg: '8.0.3',
    '@electric-sql/pglite': '0.3.0',
  },
  newest: {
    ioredis: '6.1.0',
    pg: '8.23.1',
    '@electric-sql/pglite': '0.6.1',
  },
};
