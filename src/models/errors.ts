/**
 * An error about a model: its manifest, its file, or loading it into onnxruntime. The message is a
 * single line that names the manifest (and the model file where it matters), complete on its own.
 */
export class ModelError extends Error {
  override readonly name = 'ModelError';

  constructor(message: string, options?: { cause?: unknown }) {
    super(message.replace(/\s*\n\s*/g, ' ').trim(), options);
  }
}
