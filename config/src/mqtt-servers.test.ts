import { describe, expect, it } from 'vitest';
import { mqttServers } from './mqtt-servers.js';

describe('broker URLs as mqtt.js servers', () => {
  it('keeps the order, maps tcp/tls, fills default ports, unwraps IPv6', () => {
    expect(
      mqttServers([
        'mqtt://10.0.0.1:1884',
        'tls://central.example',
        'tcp://[fd00::1]',
        'wss://central.example/mqtt',
        'ws://10.0.0.2',
      ]),
    ).toEqual([
      { host: '10.0.0.1', port: 1884, protocol: 'mqtt' },
      { host: 'central.example', port: 8883, protocol: 'mqtts' },
      { host: 'fd00::1', port: 1883, protocol: 'mqtt' },
      { host: 'central.example', port: 443, protocol: 'wss' },
      { host: '10.0.0.2', port: 80, protocol: 'ws' },
    ]);
  });
});
