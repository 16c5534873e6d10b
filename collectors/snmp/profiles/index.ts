import { airmax } from './airmax.js';
import type { Profile } from './types.js';

export type * from './types.js';

/** Every known vendor profile, most specific first. */
export const PROFILES: readonly Profile[] = [airmax];
