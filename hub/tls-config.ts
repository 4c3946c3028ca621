import { z } from 'zod';
import { configInt } from '../shared/index.js';

/**
 * `tls` of the hub config: MQTT over TLS for the embedded broker with a given
 * certificate and key, and optional client-certificate authentication of devices.
 */
export const TlsConfigSchema = z
  .strictObject({
    /** PEM certificate (chain) of the hub; with `keyFile`, enables `mqtts://` on `mqttPort`. */
    certFile: z.string().min(1).optional(),
    keyFile: z.string().min(1).optional(),
    /** PEM CA that signs device certificates; required unless `clientCerts` is `off`. */
    caFile: z.string().min(1).optional(),
    /**
     * `off`: no client certificates (user name + secret only). `optional`: a device may present
     * one; when it does, its CN must equal its MQTT user name. `required`: every TLS client
     * must present a certificate the CA signed, CN = user name (the secret is checked too).
     */
    clientCerts: z.enum(['off', 'optional', 'required']).default('off'),
    /** Port of MQTT over TLS; default 8883; 0 picks a free port. */
    mqttPort: configInt().min(0).max(65_535).default(8883),
    host: z.string().min(1).default('0.0.0.0'),
    /**
     * Port of HTTPS (the same API, artifacts and dashboard as plain HTTP, with `certFile`/
     * `keyFile`;); absent: no HTTPS. With `clientCerts` not `off`, a verified
     * client certificate authenticates a device on device routes (CN = device id). Plain HTTP
     * stays on `http.port`: bind it to loopback (`http.host`) for the admin and proxies.
     */
    httpsPort: configInt().min(0).max(65_535).optional(),
  })
  .prefault({})
  .refine((t) => (t.certFile === undefined) === (t.keyFile === undefined), {
    message: 'tls.certFile and tls.keyFile go together',
    path: ['keyFile'],
  })
  .refine((t) => t.httpsPort === undefined || t.certFile !== undefined, {
    message: 'tls.httpsPort needs tls.certFile and tls.keyFile',
    path: ['httpsPort'],
  })
  .refine((t) => t.clientCerts === 'off' || t.caFile !== undefined, {
    message: 'tls.caFile is required when tls.clientCerts is not off',
    path: ['caFile'],
  });

export type TlsConfig = z.output<typeof TlsConfigSchema>;
