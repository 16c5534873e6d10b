// The part of net-snmp's API Pantau uses (the package ships no types).
declare module 'net-snmp' {
  export interface NetSnmpVarbind {
    oid: string;
    type: number;
    value: unknown;
  }
  export interface SessionOptions {
    port?: number;
    retries?: number;
    timeout?: number;
    transport?: 'udp4' | 'udp6';
    version?: number;
    backwardsGetNexts?: boolean;
    idBitsSize?: 16 | 32;
    context?: string;
  }
  export interface V3User {
    name: string;
    level: number;
    authProtocol?: string;
    authKey?: string;
    privProtocol?: string;
    privKey?: string;
  }
  type Cb = (error: Error | null, varbinds: NetSnmpVarbind[]) => void;
  export interface Session {
    get(oids: string[], cb: Cb): void;
    getNext(oids: string[], cb: Cb): void;
    getBulk(oids: string[], nonRepeaters: number, maxRepetitions: number, cb: Cb): void;
    close(): void;
    on(event: 'error', cb: (e: Error) => void): void;
    on(event: 'close', cb: () => void): void;
  }
  export function createSession(target: string, community: string, options?: SessionOptions): Session;
  export function createV3Session(target: string, user: V3User, options?: SessionOptions): Session;
  export function isVarbindError(vb: NetSnmpVarbind): boolean;
  export const Version1: number;
  export const Version2c: number;
  export const Version3: number;
  export const SecurityLevel: { noAuthNoPriv: number; authNoPriv: number; authPriv: number };
  export const AuthProtocols: Record<string, string>;
  export const PrivProtocols: Record<string, string>;
  export const ObjectType: Record<string, number>;
  export class RequestTimedOutError extends Error {}
  export class RequestFailedError extends Error {
    status: number;
  }
  export class ResponseInvalidError extends Error {
    code: number;
  }
  export class RequestInvalidError extends Error {}
  export const ResponseInvalidCode: Record<string, number>;
  const snmp: {
    createSession: typeof createSession;
    createV3Session: typeof createV3Session;
    isVarbindError: typeof isVarbindError;
    Version1: number;
    Version2c: number;
    Version3: number;
    SecurityLevel: typeof SecurityLevel;
    AuthProtocols: typeof AuthProtocols;
    PrivProtocols: typeof PrivProtocols;
    ObjectType: typeof ObjectType;
    RequestTimedOutError: typeof RequestTimedOutError;
    RequestFailedError: typeof RequestFailedError;
    ResponseInvalidError: typeof ResponseInvalidError;
    ResponseInvalidCode: typeof ResponseInvalidCode;
  };
  export default snmp;
}
