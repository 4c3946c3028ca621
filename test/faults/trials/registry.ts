import { z } from 'zod';
import { agentKill } from './agent-kill.js';
import { clockJump } from './clock-jump.js';
import { brokerRestart, hubKill } from './hub-kill.js';
import { linkBlackhole } from './link-blackhole.js';
import { linkCut } from './link-cut.js';
import { linkFlap } from './link-flap.js';
import { linkStall } from './link-stall.js';
import { linkThrottle } from './link-throttle.js';
import { quotaDrop } from './quota-drop.js';
import type { TrialKind } from './types.js';

/**
 * Every kind of fault trial, by name (the suite's `--kinds` takes these names; an unknown
 * one is an error). The order is the order of the table printed at the end.
 */
export const TRIAL_KINDS = {
  'agent-kill': agentKill,
  cut: linkCut,
  stall: linkStall,
  blackhole: linkBlackhole,
  throttle: linkThrottle,
  flap: linkFlap,
  'clock-jump': clockJump,
  'quota-drop': quotaDrop,
  'hub-kill': hubKill,
  'broker-restart': brokerRestart,
} as const satisfies Record<string, TrialKind>;

export type TrialKindName = keyof typeof TRIAL_KINDS;
export const TrialKindSchema = z.enum(Object.keys(TRIAL_KINDS) as [TrialKindName, ...TrialKindName[]]);
