import * as path from 'node:path';

/** Repository root, from dist/test/helpers or test/helpers. */
export const REPO_ROOT = path.resolve(__dirname, '..', '..', ...(path.basename(path.resolve(__dirname, '..', '..')) === 'dist' ? ['..'] : []));

/** Real media the tests read, all inside the repository (test/fixtures/README.md gives their licences). */
export const FIXTURES_DIR = path.join(REPO_ROOT, 'test', 'fixtures');
/** RAVDESS actor 01, neutral, 3.35 s of 1280x720 video with speech: CC BY-NC-SA 4.0, test data only. */
export const RAVDESS_CLIP = path.join(FIXTURES_DIR, 'ravdess', '01-01-01-01-01-01-01.mp4');
/** The package's samples (docs/samples/README.md describes them). */
export const SAMPLES_DIR = path.join(REPO_ROOT, 'docs', 'samples');
/** The public-domain astronaut photo that the package ships as a sample. */
export const ASTRONAUT_PNG = path.join(SAMPLES_DIR, 'astronaut.png');
/** The bundled sample video (made by tools/make-sample.sh from the two sample photos and espeak-ng). */
export const SAMPLE_MP4 = path.join(SAMPLES_DIR, 'sample.mp4');
