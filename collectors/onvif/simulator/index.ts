export {
  addSubProfile,
  defaultFixturesDir,
  loadFixtures,
  RECORDED_HOST,
  renderClock,
  renderTemplate,
  rewriteAddresses,
  soapFault,
} from './fixtures.js';
export {
  type OnvifSimulator,
  type OnvifSimulatorOptions,
  type SimulatorMode,
  startOnvifSimulator,
} from './server.js';
export { DEFAULT_SNAPSHOT } from './snapshot.js';
