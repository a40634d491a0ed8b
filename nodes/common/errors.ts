/**
 * Turning any failure into an Error with a one-line message, as a node hands it to `done(err)` (so a
 * Catch node sees it) or shows it on its status dot.
 */
import { FusionConfigError } from '../../src/core/fusion-settings';
import { InputError, oneLine } from '../../src/io/errors';

/** An Error whose message is one line, from anything thrown. */
export function toError(err: unknown): Error {
  if (err instanceof Error) {
    const line = oneLine(err);
    if (line === err.message) return err;
    const e = new Error(line, { cause: err });
    e.name = err.name;
    return e;
  }
  return new Error(oneLine(err));
}

/**
 * Rethrows a failure of the user's input (InputError, FusionConfigError) as a plain Error, so Node-RED
 * shows it as it shows a node's errors ("Error: …") with the message `cer` gives; anything else as it is.
 */
export function rethrowPlain(err: unknown): never {
  throw err instanceof InputError || err instanceof FusionConfigError ? new Error(err.message) : err;
}
