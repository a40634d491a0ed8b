/**
 * Fit weights: collects the per-frame votes of labelled media (the fusion or compound rules
 * node's output) and, when told to fit, finds the fusion weights W by the paper's Dirichlet random
 * search (src/core/search.ts, the same as `cer fit-weights`). The result goes out as a fusion spec
 * that a fusion node takes as it comes (`msg.fusion`). The search keeps the best macro F1 over the six
 * non-neutral classes (f1-1to6), or with the reference-compat setting the reference's objective, their
 * mean recall (uar-1to6), as `cer fit-weights --reference-compat` does.
 *
 * A frame's true basic emotion is `msg.label` (a name such as "Happiness", a short name or an
 * index 0–6), else the `labels.json` beside the source file ({ "clip.mp4": "Sadness" }), else the
 * RAVDESS file-name code (03-01-05-… = angry; calm is left out).
 */
import { dirichletSearch, NUM_BASIC, type SearchMetric } from '../../src/core';
import { isEndPayload, type FittedFusionPayload, type FusedPayload, type Modality } from '../../src/contract/messages';
import { labelIndex, labelOfSource } from '../common/labels';
import { numberField } from '../common/fields';
import { onOrderedInput } from '../common/handlers';
import { StatusDot } from '../common/status';
import { translator } from '../common/i18n';
import type { Node, NodeAPI, NodeDef, NodeMessage, SendFunction } from '../common/red';

interface CerFitWeightsDef extends NodeDef {
  samples: string | number;
  seed: string | number;
  /** The reference's objective, uar-1to6 (absent in flows from before it: off). */
  referenceCompat?: boolean;
}

interface Sample {
  readonly votes: Partial<Record<Modality, number[]>>;
  readonly truth: number;
}

export = function register(RED: NodeAPI): void {
  function CerFitWeights(this: Node, def: CerFitWeightsDef): void {
    RED.nodes.createNode(this, def);
    const node = this;
    const status = new StatusDot(node);
    const t = translator(RED, 'cer-fit-weights');
    const samples = Math.max(1, Math.floor(numberField(def.samples, 10000)));
    const seed = Math.max(1, Math.floor(numberField(def.seed, 1)));
    const metric: SearchMetric = def.referenceCompat === true ? 'uar-1to6' : 'f1-1to6';
    let collected: Sample[] = [];
    const open = new Set<string>();
    let waitingFit: { msg: NodeMessage; send: SendFunction } | null = null;
    status.idle(t('status.noFrames'));

    const fit = (msg: NodeMessage, send: SendFunction): void => {
      const models: Modality[] = (['vs', 'vd', 'a'] as const).filter((m) => collected.some((s) => s.votes[m] !== undefined));
      const used = collected.filter((s) => models.every((m) => s.votes[m] !== undefined));
      if (models.length < 2 || used.length === 0) throw new Error(t('errors.nothingToFit', { collected: collected.length, used: used.length }));
      const probs = models.map((m) => {
        const out = new Float64Array(used.length * NUM_BASIC);
        used.forEach((s, i) => out.set(s.votes[m] as number[], i * NUM_BASIC));
        return out;
      });
      const truth = Int32Array.from(used, (s) => s.truth);
      status.loading(t('status.fitting', { frames: used.length }));
      const found = dirichletSearch({ probs, truth }, { metric, task: 'basic', samples, seed });
      const payload: FittedFusionPayload = {
        type: 'fusion',
        strategy: 'dirichlet',
        weights: found.weights,
        search: { frames: used.length, samples, seed, score: found.score, metric, models },
      };
      status.ready(t('status.fitted', { frames: used.length, metric: t(`metric.${metric}`), score: found.score.toFixed(3) }));
      send({ ...msg, payload, fusion: { strategy: payload.strategy, weights: payload.weights } });
      collected = [];
    };

    onOrderedInput(node, status, async (msg, send) => {
      const payload = msg.payload;
      if (msg.payload === 'fit' || msg.topic === 'fit' || msg.fit === true) {
        // Votes may still be on their way: fit once every stream seen so far has ended.
        if (open.size > 0) waitingFit = { msg, send };
        else fit(msg, send);
        return;
      }
      if (isEndPayload(payload)) {
        open.delete(payload.stream);
        if (open.size === 0 && waitingFit !== null) {
          const w = waitingFit;
          waitingFit = null;
          fit(w.msg, w.send);
        }
        return;
      }
      const p = payload as Partial<FusedPayload> | null;
      if (typeof p !== 'object' || p === null || (p.type !== 'fused' && p.type !== 'compound') || typeof p.votes !== 'object' || p.votes === null) {
        throw new Error(t('errors.notVotes'));
      }
      if (typeof p.stream === 'string') open.add(p.stream);
      const truth = msg.label !== undefined ? labelIndex(msg.label) : typeof p.source === 'string' ? labelOfSource(p.source) : null;
      if (truth === null) return; // unlabelled frame
      const votes: Partial<Record<Modality, number[]>> = {};
      for (const m of ['vs', 'vd', 'a'] as const) {
        const v = p.votes[m];
        if (Array.isArray(v)) votes[m] = v;
      }
      collected.push({ votes, truth });
      status.busy(() => t('status.collected', { frames: collected.length }));
    });
  }

  RED.nodes.registerType('cer-fit-weights', CerFitWeights);
};
