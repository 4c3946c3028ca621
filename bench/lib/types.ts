/** Options every benchmark gets from the command line. */
export interface BenchOptions {
  /** `--quick`: smaller sizes, for a smoke run (figures are not the ones to publish). */
  quick: boolean;
  /** `--NAME VALUE` settings of one benchmark (e.g. fleet's `--devices 5000`); unknown ones are its error. */
  params?: Readonly<Record<string, string>>;
  /** Receives progress lines as the benchmark runs. */
  progress(line: string): void;
}

/** One benchmark, registered by name in `bench/registry.ts`. */
export interface Benchmark {
  /** One line shown by `npm run bench -- --list`. */
  description: string;
  /** Runs the benchmark and returns the report to print (a table and notes). */
  run(options: BenchOptions): Promise<string>;
}
