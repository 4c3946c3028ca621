import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import {
  type Command,
  type CommandName,
  CommandSchema,
  type DesiredState,
  DesiredStateSchema,
  deviceTopic,
  encodeMessage,
  PROTOCOL_VERSION,
} from '../../shared/index.js';
import type { HubBus } from '../bus/types.js';
import type { HubStore } from '../store/types.js';

/** Publishes a desired-state document retained, QoS 1, on `…/{id}/desired`. */
export async function publishDesired(bus: HubBus, deviceId: string, desired: DesiredState): Promise<void> {
  await bus.publish(deviceTopic(deviceId, 'desired'), encodeMessage(DesiredStateSchema, desired), {
    qos: 1,
    retain: true,
  });
}

/**
 * Republishes every stored desired document retained: the embedded broker keeps retained
 * messages in memory only, so after a hub restart a device subscribing would otherwise get
 * nothing. Returns how many were published; one failure is logged and does not stop the rest.
 */
export async function republishAllDesired(store: HubStore, bus: HubBus, logger: Logger): Promise<number> {
  let published = 0;
  for (const { deviceId, desired } of await store.listDesired()) {
    try {
      await publishDesired(bus, deviceId, desired);
      published++;
    } catch (err) {
      logger.error({ err, deviceId, rev: desired.rev }, 'could not republish desired state');
    }
  }
  return published;
}

/**
 * Sends a command on `…/{id}/cmd` (QoS 1, not retained) with a fresh id, and returns the
 * document sent. The agent answers through its outbox (`cmd.result` event).
 */
export async function publishCommand(
  bus: HubBus,
  deviceId: string,
  name: CommandName,
  args: Record<string, unknown>,
  atMs: number,
): Promise<Command> {
  const command: Command = {
    v: PROTOCOL_VERSION,
    id: `cmd-${randomBytes(8).toString('hex')}`,
    name,
    args,
    at: atMs,
  };
  await bus.publish(deviceTopic(deviceId, 'cmd'), encodeMessage(CommandSchema, command), {
    qos: 1,
    retain: false,
  });
  return command;
}
