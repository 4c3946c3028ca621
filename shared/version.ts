/**
 * The Outpost release this code is (keep in step with package.json's `version`; a test checks).
 * Printed by `outpost --version`, served by the hub's `/healthz`, reported by agents.
 */
export const OUTPOST_VERSION = '0.1.0';
