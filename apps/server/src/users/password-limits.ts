/** Password length limits (OWASP / ASVS 5.0 V6.2): long passphrases welcome, hashing cost bounded. */
export const PASSWORD_MIN_LENGTH = 12;
export const PASSWORD_MAX_LENGTH = 128;
