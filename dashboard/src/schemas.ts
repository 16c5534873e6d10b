// Request schemas shared by the API's route modules.

import { Type } from '@sinclair/typebox';

/** A site, device or link id as the contract spells them (lowercase slug). */
export const Slug = Type.String({ pattern: '^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$' });
