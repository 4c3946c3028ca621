/**
 * Federated learning (issue 6): local training, update codecs, aggregation strategies,
 * privacy and secure aggregation. Shared by the agent, the hub, the CLI and the benchmarks;
 * imports neither agent nor hub.
 */
export {};
