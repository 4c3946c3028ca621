/**
 * The Outpost release this build is: the agent reports it, the hub serves it. Kept equal to
 * package.json's `version` (test/shared/version.test.ts checks).
 */
export const OUTPOST_VERSION = '0.1.0';
