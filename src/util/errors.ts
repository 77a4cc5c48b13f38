// One small set of error types. The CLI maps them to exit codes and prints them without stack traces.

export abstract class PghaError extends Error {
  abstract readonly exitCode: number;
  /** What the user should do next. */
  hint?: string;
}

/** Bad input: inventory, playbook, template, flags, environment. Exit 2. */
export class UserError extends PghaError {
  readonly exitCode = 2;
  constructor(
    message: string,
    hint?: string,
    /** Where: file path, with line and field when known. */
    readonly where?: { file?: string; line?: number; column?: number; field?: string },
  ) {
    super(message);
    this.name = 'UserError';
    this.hint = hint;
  }
}

/** A verification failed on a host. Exit 1. */
export class CheckError extends PghaError {
  readonly exitCode = 1;
  constructor(
    readonly host: string,
    readonly check: string,
    readonly expected: string,
    readonly actual: string,
    /** Last lines of the relevant service log. */
    readonly logs?: string,
    hint?: string,
  ) {
    super(`${host}: check "${check}" failed: expected ${expected}, got ${actual}`);
    this.name = 'CheckError';
    this.hint = hint;
  }
}

/** A command or connection failed on a host. Exit 1. */
export class RemoteError extends PghaError {
  readonly exitCode = 1;
  constructor(
    readonly host: string,
    message: string,
    readonly detail?: string,
    hint?: string,
  ) {
    super(`${host}: ${message}`);
    this.name = 'RemoteError';
    this.hint = hint;
  }
}

/** Several hosts failed in one step: the per-host report. Exit 1 (2 if every failure is a UserError). */
export class RunError extends PghaError {
  get exitCode(): number {
    return this.failures.every((f) => f.error instanceof UserError) ? 2 : 1;
  }
  constructor(
    readonly step: string,
    readonly failures: { host: string; error: Error }[],
  ) {
    super(`step ${step} failed on ${failures.map((f) => f.host).join(', ')}`);
    this.name = 'RunError';
  }
}

/** The lab or a provider could not do what was asked (not the user's input). Exit 1. */
export class ProviderError extends PghaError {
  readonly exitCode = 1;
  constructor(
    message: string,
    hint?: string,
    readonly detail?: string,
  ) {
    super(message);
    this.name = 'ProviderError';
    this.hint = hint;
  }
}
