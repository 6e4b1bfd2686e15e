/**
 * The process logger. Every line goes to stderr (stdout carries the MCP protocol), one line per
 * event, with the ids involved as `key=value` fields. Registered secrets are replaced before a
 * line is written, and extra sinks (MCP logging notifications) get the same redacted text.
 */

export const LOG_LEVELS = ['debug', 'info', 'warning', 'error'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export type LogFieldValue = string | number | boolean | null | undefined;
export type LogFields = Record<string, LogFieldValue>;

export interface LogRecord {
  level: LogLevel;
  message: string;
  fields: LogFields;
}

export type LogSink = (record: LogRecord) => void;

export interface Logger {
  debug(message: string, fields?: LogFields): void;
  info(message: string, fields?: LogFields): void;
  warn(message: string, fields?: LogFields): void;
  error(message: string, fields?: LogFields): void;
  /** Returns a logger that adds `fields` to every line it writes. */
  child(fields: LogFields): Logger;
}

const REDACTED = '[REDACTED]';

/** Secrets shorter than this are not registered, so that redaction cannot mangle ordinary words. */
const MIN_SECRET_LENGTH = 6;

/**
 * The strings that must never leave the process: client secrets and access or refresh tokens.
 * One registry serves the whole process, so every logger and every error formatter redacts alike.
 */
class SecretRegistry {
  private readonly secrets = new Set<string>();

  add(secret: string | undefined): void {
    if (secret !== undefined && secret.length >= MIN_SECRET_LENGTH) {
      this.secrets.add(secret);
    }
  }

  redact(text: string): string {
    let result = text;
    for (const secret of this.secrets) {
      if (result.includes(secret)) {
        result = result.split(secret).join(REDACTED);
      }
    }

    // Bearer tokens and form-encoded secrets are caught even when they were not registered.
    return result
      .replace(/(bearer\s+)[A-Za-z0-9._~+/=-]{8,}/gi, `$1${REDACTED}`)
      .replace(/((?:client_secret|access_token|refresh_token)["']?\s*[=:]\s*["']?)[^"'&\s,}]+/gi, `$1${REDACTED}`);
  }
}

export const secrets = new SecretRegistry();

const LEVEL_RANK: Record<LogLevel, number> = { debug: 0, info: 1, warning: 2, error: 3 };

export function isLogLevel(value: string): value is LogLevel {
  return (LOG_LEVELS as readonly string[]).includes(value);
}

export interface LoggerOptions {
  level: LogLevel;
  /** Receives each finished line without its newline; defaults to `process.stderr`. */
  write?: (line: string) => void;
}

function formatValue(value: LogFieldValue): string {
  const text = String(value);
  return /[\s"=]/.test(text) ? JSON.stringify(text) : text;
}

function formatLine(record: LogRecord): string {
  const parts = [new Date().toISOString(), record.level.toUpperCase(), record.message];
  for (const [key, value] of Object.entries(record.fields)) {
    if (value !== undefined) {
      parts.push(`${key}=${formatValue(value)}`);
    }
  }
  return parts.join(' ');
}

class ProcessLogger implements Logger {
  constructor(
    private readonly root: LoggerRoot,
    private readonly fields: LogFields,
  ) {}

  debug(message: string, fields?: LogFields): void {
    this.root.emit('debug', message, { ...this.fields, ...fields });
  }

  info(message: string, fields?: LogFields): void {
    this.root.emit('info', message, { ...this.fields, ...fields });
  }

  warn(message: string, fields?: LogFields): void {
    this.root.emit('warning', message, { ...this.fields, ...fields });
  }

  error(message: string, fields?: LogFields): void {
    this.root.emit('error', message, { ...this.fields, ...fields });
  }

  child(fields: LogFields): Logger {
    return new ProcessLogger(this.root, { ...this.fields, ...fields });
  }
}

/** Owns the level, the output and the extra sinks shared by a logger and its children. */
export class LoggerRoot {
  private readonly sinks = new Set<LogSink>();
  private readonly write: (line: string) => void;
  level: LogLevel;

  constructor(options: LoggerOptions) {
    this.level = options.level;
    this.write = options.write ?? ((line) => process.stderr.write(`${line}\n`));
  }

  /** Adds a sink that receives every record at or above the level; returns its removal. */
  addSink(sink: LogSink): () => void {
    this.sinks.add(sink);
    return () => this.sinks.delete(sink);
  }

  emit(level: LogLevel, message: string, fields: LogFields): void {
    if (LEVEL_RANK[level] < LEVEL_RANK[this.level]) {
      return;
    }

    const redactedFields: LogFields = {};
    for (const [key, value] of Object.entries(fields)) {
      redactedFields[key] = typeof value === 'string' ? secrets.redact(value) : value;
    }
    const record: LogRecord = { level, message: secrets.redact(message), fields: redactedFields };

    this.write(formatLine(record));
    for (const sink of this.sinks) {
      try {
        sink(record);
      } catch {
        // A broken sink (for example a closed MCP session) must not stop logging to stderr.
      }
    }
  }

  logger(fields: LogFields = {}): Logger {
    return new ProcessLogger(this, fields);
  }
}

export function createLogger(options: LoggerOptions): { root: LoggerRoot; logger: Logger } {
  const root = new LoggerRoot(options);
  return { root, logger: root.logger() };
}

/** A logger that drops everything, for tests and benchmarks that do not read logs. */
export const silentLogger: Logger = new LoggerRoot({ level: 'error', write: () => {} }).logger();
