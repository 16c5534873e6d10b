// Broker URLs from a config file as mqtt.js `servers`: the client tries the next one of the list
// at each reconnection, which is how site boxes and the dashboard fail over between brokers.
// A path in a ws:// URL is not kept: mqtt.js servers carry none (it asks for /mqtt, which the
// broker's WebSocket listener accepts like any path).

export interface MqttServer {
  host: string;
  port: number;
  protocol: 'mqtt' | 'mqtts' | 'ws' | 'wss';
}

export function mqttServers(urls: readonly string[]): MqttServer[] {
  return urls.map((u) => {
    const url = new URL(u);
    const p = url.protocol.replace(':', '');
    const protocol = (p === 'tcp' ? 'mqtt' : p === 'tls' ? 'mqtts' : p) as MqttServer['protocol'];
    const secure = protocol === 'mqtts' || protocol === 'wss';
    const port = Number(url.port) || (protocol.startsWith('ws') ? (secure ? 443 : 80) : secure ? 8883 : 1883);
    return { host: url.hostname.replace(/^\[|\]$/g, ''), port, protocol };
  });
}
