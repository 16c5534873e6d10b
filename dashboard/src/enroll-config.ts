// dashboard.yaml's `enroll:` section: what a site box gets when it redeems its token, and where
// the broker's accounts file is (the dashboard adds the box's account to it).

import { pathFrom, readPemFile } from '@pantau/config';
import { Type } from '@sinclair/typebox';

export const EnrollConfigSchema = Type.Object(
  {
    /** The broker's credentials.yaml: the dashboard must be allowed to write it (docs/install.md). */
    credentials_file: Type.String({ minLength: 1 }),
    /** The broker addresses as site boxes reach them, e.g. mqtts://central.pemda.lan:8883. */
    mqtt_urls: Type.Array(Type.String({ format: 'mqtt-url' }), { minItems: 1 }),
    /** The CA that signed the broker's certificate, handed to the box with its account. */
    ca_file: Type.Optional(Type.String({ minLength: 1 })),
    /** The central state database; default: the backbone's (central-state.db beside the store). */
    state_path: Type.Optional(Type.String({ minLength: 1 })),
  },
  { additionalProperties: false },
);

export interface EnrollSettings {
  credentialsFile: string;
  mqttUrls: string[];
  caPem?: string;
  statePath: string;
}

export function resolveEnroll(
  file: string,
  e: { credentials_file: string; mqtt_urls: string[]; ca_file?: string; state_path?: string },
  statePath: string,
): EnrollSettings {
  return {
    credentialsFile: pathFrom(file, e.credentials_file),
    mqttUrls: e.mqtt_urls,
    ...(e.ca_file ? { caPem: readPemFile(file, 'enroll.ca_file', e.ca_file, 'certificate').pem } : {}),
    statePath: e.state_path ? pathFrom(file, e.state_path) : statePath,
  };
}
