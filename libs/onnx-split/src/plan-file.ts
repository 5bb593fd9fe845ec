import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { SplitPlanError } from './errors.js';
import { isTensorDtype } from './onnx-types.js';
import type { SplitPlan } from './split-plan.js';
import { SPLIT_PLAN_FORMAT, SPLIT_PLAN_VERSION } from './split-plan.js';

/** A plan read from disk, with its stage files resolved to absolute paths. */
export interface LoadedSplitPlan {
  readonly plan: SplitPlan;
  /** Directory holding `plan.json`; stage `file`s are relative to it. */
  readonly planDir: string;
  /** Absolute path of each stage file, by stage index. */
  readonly stagePaths: readonly string[];
}

/** File name of the plan inside a split directory. */
export const PLAN_FILE_NAME = 'plan.json';

/** Reads and checks `<dir>/plan.json`. Throws {@link SplitPlanError} (naming the bad field) on a malformed plan. */
export async function loadSplitPlan(dir: string): Promise<LoadedSplitPlan> {
  const planDir = resolve(dir);
  let text: string;
  try {
    text = await readFile(join(planDir, PLAN_FILE_NAME), 'utf8');
  } catch (cause) {
    throw new SplitPlanError(`no readable ${PLAN_FILE_NAME} in ${planDir}: ${String(cause)}`, { field: 'dir', cause });
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (cause) {
    throw new SplitPlanError(`${PLAN_FILE_NAME} in ${planDir} is not JSON`, { field: 'plan', cause });
  }
  const plan = parseSplitPlan(json);
  return { plan, planDir, stagePaths: plan.stages.map((s) => resolve(planDir, s.file)) };
}

/**
 * Checks that a parsed JSON value is a {@link SplitPlan} of the current format version (a hand
 * written structural check: every field the runtime relies on, with its type and cross-references).
 * Stage files must lie inside the plan directory, so a plan directory copied to another host or a
 * shared store loads as it is.
 */
export function parseSplitPlan(value: unknown): SplitPlan {
  const v = new Checker();
  const p = v.object(value, 'plan');
  v.equal(p.format, SPLIT_PLAN_FORMAT, 'plan.format');
  v.equal(p.formatVersion, SPLIT_PLAN_VERSION, 'plan.formatVersion');
  v.string(p.key, 'plan.key');
  const source = v.object(p.source, 'plan.source');
  v.string(source.modelFile, 'plan.source.modelFile');
  v.string(source.modelSha256, 'plan.source.modelSha256');
  const n = v.integer(p.stageCount, 'plan.stageCount', 1);
  v.stringArray(p.latentInputs, 'plan.latentInputs');
  v.stringArray(p.conditioningInputs, 'plan.conditioningInputs');
  const assignment = v.object(p.assignment, 'plan.assignment');
  v.oneOf(assignment.method, ['balanced-contiguous', 'explicit'], 'plan.assignment.method');
  v.oneOf(assignment.costSource, ['profile', 'given', 'flops', 'uniform'], 'plan.assignment.costSource');
  const nodes = v.object(assignment.nodes, 'plan.assignment.nodes');
  for (const [name, stage] of Object.entries(nodes)) v.stageIndex(stage, n, `plan.assignment.nodes.${name}`);
  const stages = v.array(p.stages, 'plan.stages');
  if (stages.length !== n) v.fail('plan.stages', `has ${stages.length} entries, stageCount is ${n}`);
  stages.forEach((raw, k) => {
    const f = `plan.stages[${k}]`;
    const s = v.object(raw, f);
    v.equal(s.index, k, `${f}.index`);
    v.relativePath(s.file, `${f}.file`);
    if (s.dataFile !== null) v.relativePath(s.dataFile, `${f}.dataFile`);
    v.number(s.dataBytes, `${f}.dataBytes`);
    v.array(s.inputs, `${f}.inputs`).forEach((rawInput, i) => {
      const input = v.object(rawInput, `${f}.inputs[${i}]`);
      v.string(input.name, `${f}.inputs[${i}].name`);
      v.dtype(input.dtype, `${f}.inputs[${i}].dtype`);
      const kind = v.oneOf(input.kind, ['latent', 'conditioning', 'boundary'], `${f}.inputs[${i}].kind`);
      if (kind === 'boundary') {
        const producer = v.stageIndex(input.producer, n, `${f}.inputs[${i}].producer`);
        if (producer >= k) v.fail(`${f}.inputs[${i}].producer`, `is ${producer}; boundary inputs must come from a lower stage`);
      }
    });
    v.array(s.outputs, `${f}.outputs`).forEach((rawOutput, i) => {
      const output = v.object(rawOutput, `${f}.outputs[${i}]`);
      v.string(output.name, `${f}.outputs[${i}].name`);
      v.dtype(output.dtype, `${f}.outputs[${i}].dtype`);
      v.array(output.consumers, `${f}.outputs[${i}].consumers`).forEach((c, j) => v.stageIndex(c, n, `${f}.outputs[${i}].consumers[${j}]`));
      v.boolean(output.graphOutput, `${f}.outputs[${i}].graphOutput`);
    });
    v.boolean(s.consumesLatent, `${f}.consumesLatent`);
    v.number(s.costMs, `${f}.costMs`);
    v.number(s.parameterBytes, `${f}.parameterBytes`);
    if (s.measuredRunMs !== null) v.number(s.measuredRunMs, `${f}.measuredRunMs`);
  });
  v.array(p.boundaries, 'plan.boundaries').forEach((raw, i) => {
    const b = v.object(raw, `plan.boundaries[${i}]`);
    v.string(b.name, `plan.boundaries[${i}].name`);
    v.dtype(b.dtype, `plan.boundaries[${i}].dtype`);
    const producer = v.stageIndex(b.producer, n, `plan.boundaries[${i}].producer`);
    v.array(b.consumers, `plan.boundaries[${i}].consumers`).forEach((c, j) => {
      if (v.stageIndex(c, n, `plan.boundaries[${i}].consumers[${j}]`) <= producer) {
        v.fail(`plan.boundaries[${i}].consumers[${j}]`, 'must be a higher stage than the producer');
      }
    });
  });
  v.array(p.graphOutputs, 'plan.graphOutputs').forEach((raw, i) => {
    const o = v.object(raw, `plan.graphOutputs[${i}]`);
    v.string(o.name, `plan.graphOutputs[${i}].name`);
    v.stageIndex(o.stage, n, `plan.graphOutputs[${i}].stage`);
  });
  v.object(p.balance, 'plan.balance');
  return value as SplitPlan;
}

class Checker {
  fail(field: string, problem: string): never {
    throw new SplitPlanError(`${field} ${problem}`, { field });
  }
  object(value: unknown, field: string): Record<string, unknown> {
    if (typeof value !== 'object' || value === null || Array.isArray(value)) this.fail(field, 'must be an object');
    return value as Record<string, unknown>;
  }
  array(value: unknown, field: string): unknown[] {
    if (!Array.isArray(value)) this.fail(field, 'must be an array');
    return value;
  }
  string(value: unknown, field: string): string {
    if (typeof value !== 'string' || value === '') this.fail(field, 'must be a non-empty string');
    return value;
  }
  /** A relative path that stays inside the plan directory (a shipped plan never points elsewhere). */
  relativePath(value: unknown, field: string): string {
    const path = this.string(value, field);
    if (path.startsWith('/') || path.split(/[\\/]/).includes('..')) this.fail(field, 'must be a path inside the plan directory');
    return path;
  }
  stringArray(value: unknown, field: string): string[] {
    return this.array(value, field).map((s, i) => this.string(s, `${field}[${i}]`));
  }
  number(value: unknown, field: string): number {
    if (typeof value !== 'number' || !Number.isFinite(value)) this.fail(field, 'must be a finite number');
    return value;
  }
  integer(value: unknown, field: string, min: number): number {
    if (!Number.isInteger(value) || (value as number) < min) this.fail(field, `must be an integer ≥ ${min}`);
    return value as number;
  }
  boolean(value: unknown, field: string): boolean {
    if (typeof value !== 'boolean') this.fail(field, 'must be a boolean');
    return value;
  }
  stageIndex(value: unknown, stageCount: number, field: string): number {
    if (!Number.isInteger(value) || (value as number) < 0 || (value as number) >= stageCount) {
      this.fail(field, `must be a stage index 0…${stageCount - 1}`);
    }
    return value as number;
  }
  dtype(value: unknown, field: string): void {
    if (!isTensorDtype(value)) this.fail(field, 'must be a tensor dtype name');
  }
  equal(value: unknown, expected: unknown, field: string): void {
    if (value !== expected) this.fail(field, `must be ${JSON.stringify(expected)} (got ${JSON.stringify(value)})`);
  }
  oneOf<T extends string>(value: unknown, allowed: readonly T[], field: string): T {
    if (!allowed.includes(value as T)) this.fail(field, `must be one of ${allowed.join(', ')}`);
    return value as T;
  }
}
