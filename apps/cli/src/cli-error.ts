/**
 * A usage error: the command line itself is wrong. Always names the flag and what is accepted,
 * and makes the process exit with status 2 (other failures exit 1).
 */
export class CliUsageError extends Error {
  override readonly name = 'CliUsageError';
  readonly code = 'CLI_USAGE';
  constructor(
    readonly flag: string,
    message: string,
  ) {
    super(message);
  }
}
