export {
  type SimPunch,
  type SimSessions,
  type SimStats,
  type SimTransport,
  startZkSimulator,
  type ZkSimulator,
  type ZkSimulatorOptions,
} from './server.js';
