// Live updates: the server's event stream says what changed; the open view then reloads its data
// from the API (which computes ages and stale flags), at most once a second.

import { setSkew } from './format.js';

const TYPES = ['gateway-state', 'gateway-health', 'device-state', 'event', 'thumbnail'];

export function connectLive(
  onChange: (type: string) => void,
  onConnected: (up: boolean) => void,
): EventSource {
  const es = new EventSource('/api/stream');
  let timer: number | undefined;
  const seen = new Set<string>();
  const soon = (type: string) => {
    seen.add(type);
    if (timer !== undefined) return;
    timer = window.setTimeout(() => {
      timer = undefined;
      for (const s of seen) onChange(s);
      seen.clear();
    }, 1000);
  };
  es.addEventListener('hello', (m) => {
    setSkew(
      (JSON.parse((m as MessageEvent<string>).data) as { server_time: number }).server_time - Date.now(),
    );
    onConnected(true);
  });
  for (const type of TYPES) es.addEventListener(type, () => soon(type));
  es.onerror = () => onConnected(false);
  return es;
}
