/**
 * True when `topic` matches the MQTT subscription `filter` (`+` one level, `#` the rest,
 * MQTT 3.1.1 §4.7). Topics starting with `$` never match a filter starting with a wildcard.
 */
export function topicMatches(filter: string, topic: string): boolean {
  const f = filter.split('/');
  const t = topic.split('/');
  if (topic.startsWith('$') && (f[0] === '+' || f[0] === '#')) return false;
  for (let i = 0; i < f.length; i++) {
    const level = f[i];
    if (level === '#') return true;
    if (i >= t.length) return false;
    if (level !== '+' && level !== t[i]) return false;
  }
  return f.length === t.length;
}
