/**
 * At most one audit row per key (a session's id) per window: a refused DBSC proof is worth one line
 * in its owner's Recent activity, not one per request. Whoever holds a session's cookie can post bad
 * proofs as fast as the request limit allows; without this they would flood the owner's activity and
 * the audit log (the metric `tessera_dbsc_total` still counts every one). Per instance and in memory:
 * several instances may each record one per window, which is still a handful.
 */
export function refusalThrottle(options: { windowMs: number; maxKeys: number }) {
  const last = new Map<string, number>();
  return (key: string, now: number): boolean => {
    const at = last.get(key);
    if (at !== undefined && now - at < options.windowMs) return false;
    last.delete(key);
    last.set(key, now);
    // Oldest first (Map keeps insertion order): forget the oldest when full.
    if (last.size > options.maxKeys) last.delete(last.keys().next().value!);
    return true;
  };
}
