import { ModelError } from './errors.js';
import type { ModelPackage } from './model-package.js';

/** Words a prompt may wrap its class name in ("a handwritten digit 7", "the number seven"). */
const FILLER = new Set(['a', 'an', 'the', 'of', 'digit', 'number', 'handwritten', 'image', 'picture', 'drawing', 'video', 'clip', 'moving']);

/**
 * Maps a prompt to a class id. Our models are class-conditional, so a prompt is one of the
 * model's class labels or aliases ("7", "seven", "digit 7", "a handwritten seven"), case-insensitive.
 * An unknown prompt is an error that lists what is accepted.
 */
export function resolvePrompt(model: Pick<ModelPackage, 'name' | 'classes'>, prompt: string): number {
  const key = prompt.trim().toLowerCase();
  const words = key.split(/[^\p{L}\p{N}]+/u).filter((w) => w !== '' && !FILLER.has(w));
  for (const c of model.classes) {
    const names = [c.label, ...c.aliases].map((a) => a.toLowerCase());
    if (names.includes(key) || (words.length === 1 && names.includes(words[0] as string))) return c.id;
  }
  throw new ModelError('MODEL_UNKNOWN_PROMPT', `unknown prompt "${prompt}" for model ${model.name}; accepted: ${acceptedPrompts(model).join(', ')}`, 'prompt');
}

/** Every prompt string a model accepts (labels first, then aliases). */
export function acceptedPrompts(model: Pick<ModelPackage, 'classes'>): string[] {
  return [...model.classes.map((c) => c.label), ...model.classes.flatMap((c) => c.aliases)];
}
