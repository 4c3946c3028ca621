import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import Database from 'better-sqlite3';
import mqtt from 'mqtt';
import pg from 'pg';
import { AGENT_ENV_PREFIX, AgentConfigSchema } from '../../agent/index.js';
import { configWarnings } from '../../agent/start-warnings.js';
import { isNatsBroker, natsMqttUrls } from '../../hub/bus/mqtt-config.js';
import { HUB_ENV_PREFIX, HubConfigSchema } from '../../hub/index.js';
import { type ConfigObject, splitBrokerUrls } from '../../shared/index.js';
import { joinedConfigPath } from '../commands/agent-join.js';
import { CliError } from '../exit-codes.js';
import { loadConfig } from '../load-config.js';
import { type Check, dataDirChecks, engineChecks, fail, lockHolder, ok, portCheck, warn } from './checks.js';

function sqliteIntegrity(file: string): Check {
  if (!existsSync(file)) return ok('store', `${file} does not exist yet; created at first start`);
  try {
    const db = new Database(file, { readonly: true, fileMustExist: true });
    try {
      const result = db.pragma('quick_check', { simple: true });
      return result === 'ok'
        ? ok('store', `${file}: integrity ok`)
        : fail('store', `${file}: ${String(result)}`, 'restore the data dir from a backup');
    } finally {
      db.close();
    }
  } catch (err) {
    return fail('store', `${file}: ${(err as Error).message}`, 'check the file and its permissions');
  }
}

async function postgresReachable(url: string): Promise<Check> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 5000 });
  try {
    await client.connect();
    await client.query('SELECT 1');
    return ok('store', 'PostgreSQL answers');
  } catch (err) {
    return fail('store', `PostgreSQL: ${(err as Error).message}`, 'check store.url and that PostgreSQL runs');
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** Tries per broker URL: a NATS node may still be clearing this client id's last session. */
const BROKER_TRIES = 3;
const BROKER_RETRY_MS = 1000;

/** Logs in to one broker URL and out again (a clean DISCONNECT, so no will fires). */
async function brokerLogin(url: string, username: string, password: string, clientId: string): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      const client = await mqtt.connectAsync(
        url,
        {
          protocolVersion: 4,
          clientId,
          username,
          password,
          reconnectPeriod: 0,
          connectTimeout: 8000,
        },
        false,
      );
      await client.endAsync();
      return;
    } catch (err) {
      // A CONNACK refusal (numeric return code) is the broker's answer; anything else (a
      // closed socket, a timeout) may be transient and is tried again.
      const refused = typeof (err as { code?: unknown }).code === 'number';
      if (refused || attempt >= BROKER_TRIES) throw err;
      await new Promise((resolve) => setTimeout(resolve, BROKER_RETRY_MS));
    }
  }
}

/** Whether every broker URL of `list` (one, or a NATS cluster's comma-separated) accepts the login. */
async function brokerReachable(
  list: string,
  username: string,
  password: string,
  clientId: string,
): Promise<Check> {
  for (const url of splitBrokerUrls(list)) {
    try {
      await brokerLogin(url, username, password, clientId);
    } catch (err) {
      return fail(
        'broker',
        `${url}: ${(err as Error).message}`,
        'check the URL, that the hub runs, and the credentials',
      );
    }
  }
  return ok('broker', `${list} accepts ${username}`);
}

function configFailure(err: unknown): Check[] {
  if (err instanceof CliError)
    return [fail('config', err.message.replace(/\n\s*/g, '; '), 'fix the named settings')];
  throw err;
}

/** `outpost doctor hub`: the checks for a hub with these settings (the hub may be running). */
export async function hubChecks(flags: ConfigObject): Promise<Check[]> {
  let config: ReturnType<typeof loadConfig<typeof HubConfigSchema>>;
  try {
    config = loadConfig(HubConfigSchema, HUB_ENV_PREFIX, flags);
  } catch (err) {
    return configFailure(err);
  }
  const holder = lockHolder(config.dataDir);
  const checks: Check[] = [ok('config', 'valid'), ...dataDirChecks(config.dataDir)];
  checks.push(
    ok(
      'process',
      holder === undefined ? 'no hub runs on this data dir' : `a hub runs on this data dir (pid ${holder})`,
    ),
  );
  checks.push(await portCheck('http.port', config.http.host, config.http.port, holder));
  if (config.broker.url === undefined)
    checks.push(await portCheck('mqtt.port', config.mqtt.host, config.mqtt.port, holder));
  else if (config.broker.password === undefined)
    checks.push(
      fail('broker', 'broker.url is set without broker.password', 'set OUTPOST_HUB_BROKER__PASSWORD'),
    );
  else
    checks.push(
      await brokerReachable(
        // A NATS cluster: its nodes' MQTT listeners, where the hub logs in over MQTT too.
        isNatsBroker(config.broker) ? natsMqttUrls(config.broker).join(',') : config.broker.url,
        config.broker.username,
        config.broker.password,
        `${config.broker.username}-doctor`,
      ),
    );
  // hub/registry/signing-key.ts: DATA_DIR/keys/signing-key.pem.
  const key = join(resolve(config.dataDir), 'keys', 'signing-key.pem');
  checks.push(ok('signing key', existsSync(key) ? `${key} present` : 'none yet; created at first start'));
  checks.push(
    config.store.url === undefined
      ? sqliteIntegrity(join(resolve(config.dataDir), 'hub.db'))
      : await postgresReachable(config.store.url),
  );
  return checks;
}

/** `outpost doctor agent`: the checks for an agent with these settings (it may be running). */
export async function agentChecks(flags: ConfigObject): Promise<Check[]> {
  const joined = flags.config === undefined ? joinedConfigPath(flags) : undefined;
  let config: ReturnType<typeof loadConfig<typeof AgentConfigSchema>>;
  try {
    config = loadConfig(AgentConfigSchema, AGENT_ENV_PREFIX, joined ? { ...flags, config: joined } : flags);
  } catch (err) {
    return configFailure(err);
  }
  const holder = lockHolder(config.dataDir);
  const checks: Check[] = [
    ok('config', joined ? `valid (${joined})` : 'valid'),
    ...dataDirChecks(config.dataDir),
  ];
  const warnings = configWarnings(config);
  checks.push(
    warnings.length === 0
      ? ok('keys', 'trusted hub keys configured')
      : warn('keys', warnings.join('; '), 'outpost agent join TOKEN, or set delivery.trustedKeyFiles'),
  );
  checks.push(await portCheck('api.port', config.api.host, config.api.port, holder));
  // Connecting as the device would take over a running agent's session: only when none runs.
  checks.push(
    holder === undefined
      ? await brokerReachable(config.hub.mqttUrl, config.deviceId, config.deviceSecret, config.deviceId)
      : ok('broker', `skipped: the agent runs (pid ${holder}); 'outpost agent status' shows its link`),
  );
  const hubHttp = config.delivery.hubHttpUrl ?? config.inference.hubHttpUrl;
  if (hubHttp === undefined)
    checks.push(warn('clock', 'no hub HTTP URL to compare clocks with', 'set delivery.hubHttpUrl'));
  else checks.push(await clockSkew(hubHttp));
  checks.push(sqliteIntegrity(join(resolve(config.dataDir), 'agent.db')), ...engineChecks());
  return checks;
}

/** Clock skew against the hub's HTTP Date header (whole seconds). */
async function clockSkew(hubHttp: string): Promise<Check> {
  try {
    const before = Date.now();
    const res = await fetch(new URL('/healthz', hubHttp), { signal: AbortSignal.timeout(8000) });
    const after = Date.now();
    const date = Date.parse(res.headers.get('date') ?? '');
    if (Number.isNaN(date)) return warn('clock', 'the hub sent no Date header', 'check the hub URL');
    const skewS = Math.round(((before + after) / 2 - date) / 1000);
    return Math.abs(skewS) > 5
      ? warn('clock', `${skewS} s off the hub's clock`, 'run NTP (systemd-timesyncd, chrony) on this device')
      : ok('clock', `within 5 s of the hub (${skewS} s)`);
  } catch (err) {
    return fail(
      'clock',
      `hub at ${hubHttp} unreachable: ${(err as Error).message}`,
      'check delivery.hubHttpUrl and the network',
    );
  }
}
