import { isIdentity } from '@asyncdiff/asyncdiff';
import type { Channel } from '@asyncdiff/shm';
import ort from 'onnxruntime-node';

import { InputCompensator, isCompensable } from './compensate.js';

/**
 * One boundary input of a stage: a view on every slot of its producer's channel (zero copy), and
 * for a float tensor the buffer a compensated request's extrapolation is computed into.
 */
export interface BoundaryFeed {
  readonly name: string;
  /** Global device of the producer. */
  readonly producer: number;
  readonly channel: Channel;
  /** Input tensors over the producer's slots, by slot index (run % slotCount). */
  readonly perSlot: readonly ort.Tensor[];
  /** Float tensors only: where a compensated input is computed, and the tensor over it. */
  readonly compensated?: { readonly compensator: InputCompensator; readonly tensor: ort.Tensor };
}

/** Builds the feed of one boundary input over its producer's channel. */
export function boundaryFeed(name: string, producer: number, channel: Channel): BoundaryFeed {
  const perSlot = Array.from({ length: channel.layout.slotCount }, (_, slot) => {
    const v = channel.slot(slot).tensor(name);
    return new ort.Tensor(v.dtype, v.data as Float32Array, [...v.dims]);
  });
  const first = channel.slot(0).tensor(name);
  if (!isCompensable(first.dtype)) return { name, producer, channel, perSlot };
  const compensator = new InputCompensator(first.dtype, first.data.length);
  const tensor = new ort.Tensor(first.dtype, compensator.input as Float32Array, [...first.dims]);
  return { name, producer, channel, perSlot, compensated: { compensator, tensor } };
}

/** What `feedsFor` needs of a stage's binding. */
export interface FeedSource {
  /** Feeds for the non-boundary inputs (latent, timestep, conditioning), fixed objects over shared memory. */
  readonly fixedFeeds: Record<string, ort.Tensor>;
  readonly boundary: readonly BoundaryFeed[];
  /** Complete uncompensated feeds per combination of producer slots, built on first use. */
  readonly feedsBySlots: Map<number, Record<string, ort.Tensor>>;
}

/**
 * The feeds of a request. Uncompensated: views on the producers' slots named by their run numbers
 * (cached per combination of slots). Compensated (`weights` not the identity): each float input
 * is Σ_i weights[i] · its producer's run (r − i), computed into the stage's own input buffer;
 * every run read must still be in its slot (the producer's channel keeps weights.length + 1).
 */
export function feedsFor(b: FeedSource, producerRuns: readonly number[], weights: readonly number[], device: number): Record<string, ort.Tensor> {
  const runOf = (producer: number): number => {
    const run = producerRuns[producer] ?? -1;
    if (run < 0) throw new Error(`request for device ${device} names no run of producer ${producer}`);
    return run;
  };
  if (weights.length > 1 && !isIdentity(weights)) {
    const feeds: Record<string, ort.Tensor> = { ...b.fixedFeeds };
    for (const f of b.boundary) {
      const run = runOf(f.producer);
      const slots = f.channel.layout.slotCount;
      if (!f.compensated) {
        feeds[f.name] = f.perSlot[run % slots]!;
        continue;
      }
      if (weights.length >= slots || run < weights.length - 1) {
        throw new Error(`device ${device}: compensation over ${weights.length} runs of producer ${f.producer} (run ${run}, ${slots} slots) is not available`);
      }
      const sources = weights.map((_, i) => {
        const slot = f.channel.tryRead(run - i);
        if (!slot) throw new Error(`device ${device}: run ${run - i} of producer ${f.producer} is not published`);
        return slot.tensor(f.name).data as Float32Array | Uint16Array;
      });
      f.compensated.compensator.compute(sources, weights);
      feeds[f.name] = f.compensated.tensor;
    }
    return feeds;
  }
  // Slot of each producer (< 8) in base 8 by producer device (< 16): at most 8^16, exact in a double.
  const slotOf = new Map<number, number>();
  for (const f of b.boundary) slotOf.set(f.producer, runOf(f.producer) % f.channel.layout.slotCount);
  let key = 0;
  for (const [producer, slot] of slotOf) key += slot * 8 ** producer;
  let feeds = b.feedsBySlots.get(key);
  if (!feeds) {
    feeds = { ...b.fixedFeeds };
    for (const f of b.boundary) feeds[f.name] = f.perSlot[runOf(f.producer) % f.channel.layout.slotCount]!;
    b.feedsBySlots.set(key, feeds);
  }
  return feeds;
}
