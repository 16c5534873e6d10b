// A camera's still image from its ONVIF snapshot URI, for thumbnails: HTTP GET with Digest (or
// Basic, when that is all the camera offers), a hard deadline and a size cap, and a check that
// what came back is a JPEG (cameras answer errors with HTML pages and status 200).

import { CollectorError } from '../common/errors.js';
import { type Credentials, HttpAuthState, httpRequestWithAuth, OnvifError } from './http.js';

export interface SnapshotOptions {
  /** Deadline for the whole download. Default 5000. */
  timeoutMs?: number;
  /** Abort when the image is larger than this. Default 2 MiB. */
  maxBytes?: number;
  signal?: AbortSignal;
}

/** Downloads the JPEG at `uri`. Throws OnvifError (a CollectorError) on any failure. */
export async function fetchSnapshot(
  uri: string,
  creds: Credentials | undefined,
  opts: SnapshotOptions = {},
): Promise<Buffer> {
  let url: URL;
  try {
    url = new URL(uri);
  } catch {
    throw new CollectorError('malformed', `not a snapshot URL: ${uri}`);
  }
  // Credentials written into the URI (user:pass@host) are used when none are given.
  let c = creds;
  if (!c && (url.username || url.password)) {
    c = { username: decodeURIComponent(url.username), password: decodeURIComponent(url.password) };
  }
  url.username = '';
  url.password = '';
  const res = await httpRequestWithAuth(
    {
      url,
      method: 'GET',
      headers: { Accept: 'image/jpeg' },
      timeoutMs: opts.timeoutMs ?? 5000,
      maxBytes: opts.maxBytes ?? 2 * 1024 * 1024,
      ...(opts.signal ? { signal: opts.signal } : {}),
    },
    c,
    new HttpAuthState(),
  );
  const where = `${url.host}${url.pathname}`;
  if (res.status === 401 || res.status === 403) {
    throw new OnvifError(
      'auth',
      res.authSent ? `${where} refused the credentials (HTTP ${res.status})` : `${where} wants credentials`,
      true,
      { status: res.status },
    );
  }
  if (res.status !== 200) {
    throw new OnvifError('malformed', `${where} answered HTTP ${res.status} instead of an image`, true, {
      status: res.status,
    });
  }
  if (res.body.length < 4 || res.body[0] !== 0xff || res.body[1] !== 0xd8) {
    const ct = String(res.headers['content-type'] ?? 'no content type');
    throw new OnvifError(
      'malformed',
      `${where} answered ${res.body.length} bytes of ${ct}, not a JPEG`,
      true,
      {
        status: res.status,
      },
    );
  }
  return res.body;
}
