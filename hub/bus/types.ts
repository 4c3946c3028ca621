/** Where a message came from, when the bus knows it. */
export interface MessageOrigin {
  /**
   * Opaque id of the MQTT connection that published the message (a will counts as published
   * by the connection it belonged to). Absent for the hub's own messages and where the
   * bus cannot tell (an external broker).
   */
  session?: string | undefined;
}

/** Handler of one delivered message. It must not throw; a rejection is logged by the bus. */
export type MessageHandler = (topic: string, payload: Buffer, origin: MessageOrigin) => void | Promise<void>;

/** A device's MQTT connection that ended, as far as the bus can observe it. */
export interface SessionEnd {
  /** MQTT client id (the device id for an authenticated device). */
  clientId: string;
  /** The same opaque id {@link MessageOrigin.session} carried for that connection. */
  session: string;
}

/** Options of {@link HubBus.publish}. */
export interface PublishOptions {
  qos: 0 | 1;
  retain: boolean;
}

/**
 * The hub's view of the MQTT broker: the protocol handling talks only to this, so that an
 * external broker (Mosquitto, EMQX) can replace the embedded aedes one later.
 */
export interface HubBus {
  /** Delivers every message whose topic matches `filter` (MQTT wildcards `+`, `#`). */
  subscribe(filter: string, handler: MessageHandler): Promise<void>;
  /** Publishes as the hub; resolves once the broker has taken the message. */
  publish(topic: string, payload: Buffer, options: PublishOptions): Promise<void>;
  /** Called when a client's connection ends (embedded broker only; others may never call it). */
  onSessionEnd(handler: (end: SessionEnd) => void): void;
  /**
   * MQTT clients connected to the broker now, or null when the broker does not say (a NATS
   * cluster: its connection counts are on each node's monitoring port, not on MQTT).
   */
  clientCount(): number | null;
  /** Whether the hub can reach its broker now; absent = always (the embedded broker). */
  connected?(): boolean;
}
