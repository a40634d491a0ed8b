/**
 * Test-only image decoding with the system's ffmpeg/ffprobe (Debian ffmpeg on PATH): the first
 * video frame of a file (image or video) as 8-bit RGB. The project's media layer is tested on its
 * own; this keeps model tests independent of it.
 */
import { execFile } from 'node:child_process';
import type { RgbImage } from '../../src/media/types';

function run(cmd: string, args: readonly string[]): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { encoding: 'buffer', maxBuffer: 1 << 30 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${cmd} ${args.join(' ')} failed: ${err.message} ${stderr.toString().trim()}`));
      else resolve(stdout);
    });
  });
}

/** Width and height of the first video stream. */
export async function probeSizeForTest(file: string): Promise<{ width: number; height: number }> {
  const out = await run('ffprobe', [
    '-v', 'error', '-select_streams', 'v:0', '-show_entries', 'stream=width,height', '-of', 'csv=p=0:s=x', file,
  ]);
  const m = /^(\d+)x(\d+)/.exec(out.toString().trim());
  if (!m) throw new Error(`ffprobe gave no size for ${file}: ${out.toString().trim()}`);
  return { width: Number(m[1]), height: Number(m[2]) };
}

/** The first frame of an image or video file, decoded to RGB24 by ffmpeg. */
export async function decodeImageForTest(file: string): Promise<RgbImage> {
  const { width, height } = await probeSizeForTest(file);
  const data = await run('ffmpeg', [
    '-v', 'error', '-i', file, '-frames:v', '1', '-f', 'rawvideo', '-pix_fmt', 'rgb24', '-',
  ]);
  if (data.length !== width * height * 3) {
    throw new Error(`ffmpeg gave ${data.length} bytes for ${file}, ${width}x${height} RGB needs ${width * height * 3}`);
  }
  return { width, height, data: new Uint8Array(data.buffer, data.byteOffset, data.length) };
}
