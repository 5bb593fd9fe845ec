import { fileURLToPath } from 'node:url';
import type { InputSpecs } from '../random-feeds.js';

/** A tiny pipeline of tools/sd-fixtures (test/fixtures/pipelines): a real torch.onnx export (opset 14) in optimum's layout, UNet weights in external data. */
export interface SdFixture {
  readonly name: string;
  readonly inputs: (batch: number, size: number) => InputSpecs;
  readonly conditioning: readonly string[];
  readonly stages: readonly number[];
  /** Largest allowed difference, absolute; or, with `relative`, as a fraction of the output's largest magnitude. */
  readonly tolerance: number;
  readonly relative?: boolean;
}

export const unetPath = (name: string): string => fileURLToPath(new URL(`../../../../test/fixtures/pipelines/${name}/unet/model.onnx`, import.meta.url));

const sdInputs =
  (o: { float: 'float32' | 'float16'; timestep: 'int64' | 'float32'; scalarTimestep: boolean; context: number; sdxl: boolean }) =>
  (batch: number, size: number): InputSpecs => ({
    sample: { dtype: o.float, dims: [batch, 4, size, size] },
    timestep: { dtype: o.timestep, dims: o.scalarTimestep ? [] : [batch] },
    encoder_hidden_states: { dtype: o.float, dims: [batch, 77, o.context] },
    ...(o.sdxl ? { text_embeds: { dtype: o.float, dims: [batch, 32] }, time_ids: { dtype: o.float, dims: [batch, 6] } } : {}),
  });

export const SD_FIXTURES: readonly SdFixture[] = [
  { name: 'tiny-sd15', inputs: sdInputs({ float: 'float32', timestep: 'int64', scalarTimestep: false, context: 32, sdxl: false }), conditioning: ['timestep', 'encoder_hidden_states'], stages: [2, 3], tolerance: 1e-5 },
  {
    name: 'tiny-sdxl',
    inputs: sdInputs({ float: 'float32', timestep: 'float32', scalarTimestep: true, context: 64, sdxl: true }),
    conditioning: ['timestep', 'encoder_hidden_states', 'text_embeds', 'time_ids'],
    stages: [2, 3],
    tolerance: 1e-5,
  },
  { name: 'tiny-sd21v', inputs: sdInputs({ float: 'float32', timestep: 'float32', scalarTimestep: true, context: 32, sdxl: false }), conditioning: ['timestep', 'encoder_hidden_states'], stages: [2], tolerance: 1e-5 },
  { name: 'tiny-sd15-fp16', inputs: sdInputs({ float: 'float16', timestep: 'int64', scalarTimestep: false, context: 32, sdxl: false }), conditioning: ['timestep', 'encoder_hidden_states'], stages: [2], tolerance: 2 ** -8, relative: true },
];

