/** This process's limit on open files (`ulimit -n`); undefined where it cannot be read. */
export declare function openFilesLimit(): number | undefined;
/**
 * Refuses a fleet this process cannot hold: every simulated device is one socket here, so
 * `devices` plus the bench's other descriptors must fit under `ulimit -n`; past it the run
 * would fail part way with EMFILE.
 */
export declare function checkOpenFiles(devices: number, limit?: number | undefined): void;
