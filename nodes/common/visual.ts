/**
 * The visual votes of one stream and the VD stage, from src/ — the same pieces `cer analyze` uses,
 * so the VS and VD nodes give its numbers.
 */
export { StreamVisualVotes, type FaceFrame } from '../../src/stages/visual-stream';
export { createVDStage } from '../../src/stages/vd';
