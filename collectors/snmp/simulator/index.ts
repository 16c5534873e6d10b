export { loadRecording, parseSnmprec, parseSnmpwalk, type Varbind } from '../snmprec.js';
export { type SimulatedAgent, type SimulatedAgentOptions, startSimulatedAgent } from './agent.js';
export { fadeDepth, type Scenario } from './scenarios.js';
