/** The settings and services that the runner passes to every benchmark. */

export interface BenchContext {
  /** Smoke run: smaller N and fewer runs, so the targets are only indicative. */
  quick: boolean;
  /** Temporary folder for prediction files and server state. The runner deletes it at the end. */
  tempRoot: string;
  /** Folder for the server's CPU profiles, set only with --cpu-prof. */
  profileRoot?: string;
  /** Writes one progress line to stderr, so that stdout carries only the result tables. */
  progress(message: string): void;
}
