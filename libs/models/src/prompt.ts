import { ModelError } from './errors.js';
import type { ModelPackage } from './model-package.js';

/**
 * Maps a prompt to a class id. Our models are class-conditional, so a prompt is one of the
 * model's class labels or aliases ("7", "seven"), case- and surrounding-space-insensitive.
 * An unknown prompt is an error that lists what is accepted.
 */
export function resolvePrompt(model: Pick<ModelPackage, 'name' | 'classes'>, prompt: string): number {
  const key = prompt.trim().toLowerCase();
  for (const c of model.classes) {
    if (c.label.toLowerCase() === key || c.aliases.some((a) => a.toLowerCase() === key)) return c.id;
  }
  throw new ModelError('MODEL_UNKNOWN_PROMPT', `unknown prompt "${prompt}" for model ${model.name}; accepted: ${acceptedPrompts(model).join(', ')}`, 'prompt');
}

/** Every prompt string a model accepts (labels first, then aliases). */
export function acceptedPrompts(model: Pick<ModelPackage, 'classes'>): string[] {
  return [...model.classes.map((c) => c.label), ...model.classes.flatMap((c) => c.aliases)];
}
