// What a LAN scan reports about one device: who it is, how it was found, and how to reach it again
// (so the installer page can add it to site.yaml without asking for the same things twice).

export type FoundKind = 'radio' | 'camera' | 'terminal' | 'power' | 'host';
export type FoundVia = 'ws-discovery' | 'snmp' | 'zk' | 'modbus';

export interface FoundDevice {
  address: string;
  port: number;
  /** `host`: an SNMP agent none of our vendor profiles recognises (a switch, a server). */
  kind: FoundKind;
  vendor?: string;
  model?: string;
  firmware?: string;
  serial?: string;
  /** SNMP vendor profile id or Modbus register map id. */
  profile?: string;
  /** What the device calls itself (sysName, ONVIF name scope, terminal name). */
  name?: string;
  via: FoundVia;
  /** A device at this address (and port, for the kinds that have one in site.yaml) is already in site.yaml. */
  already_configured: boolean;
  /** How it answered: enough to write its site.yaml entry. */
  access: FoundAccess;
  /** Said when the device answered but could not be classified fully (e.g. camera without credentials). */
  note?: { id: string; en: string };
}

export interface FoundAccess {
  snmp?: { version: '1' | '2c'; community: string; port: number };
  onvif?: { port: number; path: string; xaddr: string; authenticated: boolean };
  zk?: { port: number; transport: 'tcp' | 'udp' };
  modbus?: { port: number; unit_id: number; map: string };
}

export interface ScanOptions {
  /** Subnets in CIDR form, each at most a /22. */
  subnets?: string[];
  /** Single addresses. */
  addresses?: string[];
  /** SNMP communities to try, in order of preference. Default ['public']. */
  communities?: string[];
  snmpPort?: number;
  /** WS-Discovery UDP port of each address (3702). */
  wsdPort?: number;
  /** Also probe the WS-Discovery multicast group (cameras on this LAN answer wherever they are). */
  multicast?: boolean;
  /** Camera credentials to read vendor/model/firmware (GetDeviceInformation needs them). */
  camera?: { username: string; password: string };
  zkPort?: number;
  /** The terminals' comm key, when they have one. */
  zkCommKey?: number;
  modbusPort?: number;
  /** Modbus unit ids to try at each address. Default [1]. */
  modbusUnits?: number[];
  /** Which protocols to look for. Default all. */
  kinds?: Array<'camera' | 'snmp' | 'zk' | 'modbus'>;
  /** One probe's wait for an answer. Default 1000 ms. */
  timeoutMs?: number;
  /** Addresses probed at once per protocol. Default 32. */
  concurrency?: number;
  /** Already configured devices (site.yaml's), to mark what is new. */
  configured?: ReadonlyArray<{ address: string; kind: string; port?: number }>;
  signal?: AbortSignal;
  /** Progress, for the installer page: addresses done of total, per protocol. */
  onProgress?: (p: { protocol: string; done: number; total: number }) => void;
}
