// The site box's broker account, made (or given a new password) when its token is redeemed. The
// broker watches credentials.yaml and takes the new account without a restart.

import { generateSecret } from '@pantau/config';
import { addGateway, loadCredentials, setPassword } from '../credentials.js';

export class ProvisionError extends Error {}

/**
 * Creates gw-<site> with a fresh strong password, or sets a new one when the account exists (a box
 * replaced: the old box's password stops working). Returns the password, shown to the box only.
 */
export async function provisionGateway(
  file: string,
  site: string,
): Promise<{ username: string; password: string }> {
  const username = `gw-${site}`;
  const password = generateSecret(24);
  const c = loadCredentials(file);
  if (c.readers.some((r) => r.username === username))
    throw new ProvisionError(`account "${username}" exists as a reader account in ${file}`);
  const existing = c.gateways.find((g) => g.username === username);
  if (existing && existing.site !== site)
    throw new ProvisionError(`account "${username}" exists for site "${existing.site}" in ${file}`);
  if (existing) await setPassword(file, username, password);
  else await addGateway(file, site, username, password);
  return { username, password };
}
