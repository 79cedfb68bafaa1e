/**
 * A compact, reversible encoding of User-Agent strings for the Redis store (field `g`).
 *
 * Browser user agents are ~70-150 characters made mostly of the same few substrings
 * (`Mozilla/5.0 (`, `) AppleWebKit/537.36 (KHTML, like Gecko) `, ...). Each substring of the static
 * DICTIONARY below is written as ONE control character, U+0001 for the first entry up to U+001E for
 * the 30th, so a typical 110-character UA takes ~10 bytes and a session hash stays small
 * (see ./index.ts). Encoding is greedy: at each position the longest entry that matches is taken.
 *
 * Every string round-trips exactly: a character U+0001..U+001F already in the input is written as
 * ESCAPE (U+001F) followed by that character; everything else (U+0000, printable ASCII, any other
 * UTF-16 code unit, lone surrogates included) stands for itself.
 *
 * The DICTIONARY is a storage format: stored sessions decode with the table they were written with, so
 * its entries and their order must never change. A new table needs a new field (or a version mark).
 * Redis never looks inside: the scripts treat `g` as opaque bytes; the store encodes on create and
 * decodes wherever it returns a session.
 */

/** Entry n (0-based) is written as the character U+0001 + n. Frozen: see above. */
export const USER_AGENT_DICTIONARY: readonly string[] = Object.freeze([
  'Mozilla/5.0 (',
  'Windows NT 10.0; Win64; x64',
  'Macintosh; Intel Mac OS X 10_15_7',
  'Macintosh; Intel Mac OS X ',
  'X11; Linux x86_64',
  'iPhone; CPU iPhone OS ',
  'iPad; CPU OS ',
  ' like Mac OS X',
  'Linux; Android 10; K',
  'Linux; Android ',
  ') AppleWebKit/537.36 (KHTML, like Gecko) ',
  ') AppleWebKit/605.1.15 (KHTML, like Gecko) ',
  'Chrome/',
  ' Safari/537.36',
  ' Mobile Safari/537.36',
  'Version/',
  ' Safari/605.1.15',
  ' Mobile/15E148 Safari/604.1',
  ' Mobile/15E148',
  '; rv:',
  ') Gecko/20100101 Firefox/',
  'Firefox/',
  'X11; Ubuntu; Linux x86_64',
  ' Edg/',
  '.0.0.0',
  'CriOS/',
  'SamsungBrowser/',
  ' OPR/',
  'X11; CrOS x86_64 ',
  'Android ',
]);

/** Marks the next character as itself (for control characters already in the input). */
const ESCAPE = 0x1f;
const ESCAPE_CHAR = String.fromCharCode(ESCAPE);

if (USER_AGENT_DICTIONARY.length !== ESCAPE - 1) {
  throw new Error('user-agent codec: the dictionary must fill the codes U+0001..U+001E exactly');
}

const CODE_OF: ReadonlyMap<string, string> = new Map(
  USER_AGENT_DICTIONARY.map((entry, n) => [entry, String.fromCharCode(n + 1)]),
);

/** Every entry, longest first (a regex alternation takes the first alternative that matches), then any
 * character U+0001..U+001F of the input, which gets escaped. */
const PATTERN = new RegExp(
  `${[...USER_AGENT_DICTIONARY]
    .sort((a, b) => b.length - a.length)
    .map((entry) => entry.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&'))
    .join('|')}|[\\x01-\\x1f]`,
  'g',
);

/** The compact form of `userAgent` (any string), for storage. Inverse: decodeUserAgent. */
export function encodeUserAgent(userAgent: string): string {
  return userAgent.replace(PATTERN, (match) => CODE_OF.get(match) ?? ESCAPE_CHAR + match);
}

/** The user agent that encodeUserAgent turned into `encoded`. Runs on every validate: one pass, no regex. */
export function decodeUserAgent(encoded: string): string {
  let out = '';
  let from = 0; // start of the literal run not yet copied to `out`
  for (let i = 0; i < encoded.length; i++) {
    const c = encoded.charCodeAt(i);
    if (c > ESCAPE || c === 0) continue;
    out += encoded.slice(from, i);
    if (c === ESCAPE) {
      from = i + 1; // the escaped character starts the next literal run
      i++;
    } else {
      out += USER_AGENT_DICTIONARY[c - 1];
      from = i + 1;
    }
  }
  return from === 0 ? encoded : out + encoded.slice(from);
}
