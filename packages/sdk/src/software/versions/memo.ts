/** A bounded memo for parsed versions: scanning compares the same few strings many times. */
export function memoize<T>(parse: (s: string) => T, limit = 100_000): (s: string) => T {
  let cache = new Map<string, T>();
  return (s: string): T => {
    let v = cache.get(s);
    if (v === undefined) {
      v = parse(s);
      // Bounded memory: start over rather than grow without limit.
      if (cache.size >= limit) cache = new Map();
      cache.set(s, v);
    }
    return v;
  };
}
