import type { RegisterMap } from '../map.js';
import { eastronSdm } from './eastron-sdm.js';
import { epeverTracer } from './epever-tracer.js';
import { upsGeneric } from './ups-generic.js';

export { eastronSdm, epeverTracer, upsGeneric };

/** Built-in register maps by id; a site's config names one (`map: eastron-sdm`) or brings its own. */
export const REGISTER_MAPS: Readonly<Record<string, RegisterMap>> = {
  [upsGeneric.id]: upsGeneric,
  [epeverTracer.id]: epeverTracer,
  [eastronSdm.id]: eastronSdm,
};
