/**
 * Compound rules: a frame's fused scores in; the 7 compound-expression scores (rule-free, Rule 1,
 * Rule 2 or both, src/core/rules.ts), the label (the highest score, ties to the first) and the top k out.
 * `msg.rule` changes the rule from that message on, as `msg.fusion` changes the fusion node's fusion.
 */
import { argmax, COMPOUND_NAMES, compoundScoresInto, isRule, NUM_COMPOUND, parseRule, type Rule } from '../../src/core';
import { InputError } from '../../src/io/errors';
import { describe } from '../../src/core/describe';
import { checkFrameNumber, checkFusedScores } from '../../src/io/votes';
import { isEndPayload, type CompoundPayload, type FusedPayload } from '../../src/contract/messages';
import { rethrowPlain } from '../common/errors';
import { numberField } from '../common/fields';
import { onOrderedInput } from '../common/handlers';
import { fpsText, RateMeter, StatusDot } from '../common/status';
import { rankCompounds } from '../common/payloads';
import { translator } from '../common/i18n';
import type { Node, NodeAPI, NodeDef, NodeMessage, SendFunction } from '../common/red';

interface CerRulesDef extends NodeDef {
  rule: Rule;
  /** How many compound expressions to rank in topK. */
  topK: string | number;
}

export = function register(RED: NodeAPI): void {
  function CerRules(this: Node, def: CerRulesDef): void {
    RED.nodes.createNode(this, def);
    const node = this;
    const status = new StatusDot(node);
    const t = translator(RED, 'cer-rules');
    let rule: Rule = isRule(def.rule) ? def.rule : 'none';
    const k = Math.max(1, Math.min(NUM_COMPOUND, Math.floor(numberField(def.topK, 3))));
    const meter = new RateMeter();
    const compound = new Float64Array(NUM_COMPOUND);
    status.ready(t('status.ready', { rule }));

    onOrderedInput(node, status, (msg, send) => handle(msg, send).catch(rethrowPlain));

    async function handle(msg: NodeMessage, send: SendFunction): Promise<void> {
      const payload = msg.payload;
      if (msg.rule !== undefined) {
        rule = parseRule(msg.rule, 'msg.rule');
        status.ready(t('status.ready', { rule }));
        // A message that only sets the rule (an inject's timestamp, say) has nothing to score.
        const scored = Array.isArray(payload) || isEndPayload(payload) || (typeof payload === 'object' && payload !== null && (payload as { type?: unknown }).type === 'fused');
        if (!scored) return;
      }
      if (isEndPayload(payload)) {
        send({ ...msg, payload: { ...payload, modality: 'compound' } });
        return;
      }
      // Fused scores from the fusion node, or a plain array of 7.
      let fusedPayload: Partial<FusedPayload> = {};
      // Checked as the fusion node's output can be: 7 finite scores in [0, MAX_FUSED_SCORE] (src/io/votes.ts).
      let fused: number[] | null;
      if (Array.isArray(payload)) {
        fused = checkFusedScores(payload, 'msg.payload');
      } else if (typeof payload === 'object' && payload !== null && (payload as { type?: unknown }).type === 'fused') {
        fusedPayload = payload as FusedPayload;
        fused = fusedPayload.fused === null || fusedPayload.fused === undefined ? null : checkFusedScores(fusedPayload.fused, 'msg.payload.fused');
        if (fusedPayload.frame !== undefined) checkFrameNumber(fusedPayload.frame, 'msg.payload.frame');
        if (fusedPayload.stream !== undefined && typeof fusedPayload.stream !== 'string') {
          throw new InputError(`msg.payload.stream: expected the stream's name (a string), got ${describe(fusedPayload.stream)}`);
        }
      } else {
        throw new InputError(t('errors.notFused'));
      }
      let scores: number[] | null = null;
      let index: number | null = null;
      if (fused !== null) {
        compoundScoresInto(fused, rule, compound);
        scores = Array.from(compound);
        index = argmax(compound);
      }
      const result: CompoundPayload = {
        stream: fusedPayload.stream ?? (typeof msg.stream === 'string' ? msg.stream : 'default'),
        source: fusedPayload.source ?? '',
        frame: fusedPayload.frame ?? 0,
        t: fusedPayload.t ?? 0,
        track: fusedPayload.track ?? null,
        face: fusedPayload.face ?? null,
        votes: fusedPayload.votes ?? { vs: null, vd: null, a: null },
        type: 'compound',
        fused,
        rule,
        compound: scores,
        scores: scores === null ? null : Object.fromEntries(COMPOUND_NAMES.map((name, i) => [name, scores[i]])),
        label: index === null ? null : COMPOUND_NAMES[index],
        index,
        topK: scores === null ? [] : rankCompounds(scores, k),
        late: fusedPayload.late ?? [],
      };
      send({ ...msg, payload: result });
      meter.tick();
      status.busy(() => t('status.busy', { rule, label: result.label ?? t('status.noFace'), fps: fpsText(meter.perSecond) }));
    }
  }

  RED.nodes.registerType('cer-rules', CerRules);
};
