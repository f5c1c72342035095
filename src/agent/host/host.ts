/**
 * Everything operator controllers may do to a machine. Production uses the root `/`; tests use
 * a private root, or run the agent inside namespaces with a private /etc.
 */
export interface RunResult {
  readonly stdout: string;
  readonly stderr: string;
  readonly code: number;
}

export interface RunOptions {
  readonly timeoutMs?: number;
  readonly input?: string;
  readonly signal?: AbortSignal;
}

export interface WriteFileOptions {
  readonly mode?: number;
}

export interface Host {
  /** File contents, or undefined when the file does not exist. Paths are absolute, under the root. */
  readFile(path: string): Promise<string | undefined>;
  /** Writes through a temp file, fsync and rename, so readers see the old or the new file, never a torn one. */
  writeFileAtomic(path: string, content: string, options?: WriteFileOptions): Promise<void>;
  appendFile(path: string, content: string, options?: WriteFileOptions): Promise<void>;
  removeFile(path: string): Promise<void>;
  /** Mode bits (e.g. 0o644), or undefined when the file does not exist. */
  fileMode(path: string): Promise<number | undefined>;
  /** A sysctl's value, undefined when the key does not exist. */
  readSysctl(key: string): Promise<string | undefined>;
  writeSysctl(key: string, value: string): Promise<void>;
  hostname(): Promise<string>;
  setHostname(name: string): Promise<void>;
  /** Runs a program; a non-zero exit is a result, not an error. */
  run(command: string, args: readonly string[], options?: RunOptions): Promise<RunResult>;
  /** `ip -json <args>` parsed; fails with the command's message on a non-zero exit. */
  ipJson<T = unknown>(args: readonly string[], options?: RunOptions): Promise<T>;
}
