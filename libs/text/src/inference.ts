/** The text encoders of a diffusers pipeline: `text_encoder` (all), `text_encoder_2` (SDXL). */
export type TextEncoderComponent = 'text_encoder' | 'text_encoder_2';

/**
 * A tensor crossing the inference boundary, in the form ONNX Runtime for Node hands out (float16
 * travels as raw bit patterns in a Uint16Array: Node 20 has no Float16Array).
 */
export type EncoderTensor =
  | { readonly dtype: 'float32'; readonly dims: readonly number[]; readonly data: Float32Array }
  | { readonly dtype: 'float16'; readonly dims: readonly number[]; readonly data: Uint16Array }
  | { readonly dtype: 'int32'; readonly dims: readonly number[]; readonly data: Int32Array }
  | { readonly dtype: 'int64'; readonly dims: readonly number[]; readonly data: BigInt64Array };

/** The element types of {@link EncoderTensor}. */
export type EncoderDType = EncoderTensor['dtype'];

/**
 * One input or output of an encoder graph as ONNX Runtime's `session.inputMetadata` /
 * `outputMetadata` describe it: its name and element type (`'int32'`, `'int64'`, `'float16'`…;
 * any other string for types this lib does not handle).
 */
export interface EncoderValueInfo {
  readonly name: string;
  readonly dtype: string;
}

/** A graph's inputs and outputs, as the loaded session reports them. */
export interface EncoderSignature {
  readonly inputs: readonly EncoderValueInfo[];
  readonly outputs: readonly EncoderValueInfo[];
}

/**
 * How this lib reaches the text encoders, whatever runs them (a stage process, a worker thread,
 * an in-process session in a test). The caller owns the sessions and their lifecycle; this lib only
 * asks. Why an interface: text conditioning is pure orchestration and must not know about
 * processes or IPC.
 */
export interface TextEncoderInference {
  /**
   * The signature of a component's graph. Synchronous because it is known once the session is
   * loaded; it tells the token dtype (optimum exports int32 or int64 `input_ids`) and which
   * `hidden_states.N` outputs exist.
   */
  signature(component: TextEncoderComponent): EncoderSignature;
  /**
   * Runs a component on `feeds` and resolves with (at least) the outputs named in `outputNames`.
   * Runs on one component never need to overlap; the lib awaits each before the next.
   */
  run(
    component: TextEncoderComponent,
    feeds: Readonly<Record<string, EncoderTensor>>,
    outputNames: readonly string[],
    options?: { readonly signal?: AbortSignal },
  ): Promise<Readonly<Record<string, EncoderTensor>>>;
}
