/** A minimal PNG encoder for test data: one IHDR, one IDAT and one IEND chunk, no filtering. */
import { deflateSync } from 'node:zlib';

const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

/** PNG colour types and the number of samples per pixel of each. */
const SAMPLES_PER_PIXEL: Readonly<Record<number, number>> = { 0: 1, 2: 3, 3: 1, 4: 2, 6: 4 };

/** Lookup table of the CRC-32 (polynomial 0xEDB88320) that PNG chunks use. */
const CRC_TABLE = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let bit = 0; bit < 8; bit++) {
      c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    }
    table[n] = c >>> 0;
  }
  return table;
})();

export function crc32(bytes: Uint8Array): number {
  let crc = 0xffffffff;
  for (const byte of bytes) {
    crc = (CRC_TABLE[(crc ^ byte) & 0xff] as number) ^ (crc >>> 8);
  }
  return (crc ^ 0xffffffff) >>> 0;
}

function chunk(type: string, data: Buffer): Buffer {
  const length = Buffer.alloc(4);
  length.writeUInt32BE(data.length);

  const typeAndData = Buffer.concat([Buffer.from(type, 'latin1'), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(typeAndData));

  return Buffer.concat([length, typeAndData, crc]);
}

export interface PngOptions {
  width: number;
  height: number;
  /** Samples row by row, `width * samples per pixel` per row; only 8-bit depth is encoded. */
  samples: Uint8Array;
  /** PNG colour type: 0 grayscale (the default), 2 RGB, 4 grayscale with alpha, 6 RGBA. */
  colourType?: number;
}

/** Encodes an 8-bit PNG file; each row gets filter type 0 (none). */
export function encodePng(options: PngOptions): Buffer {
  const colourType = options.colourType ?? 0;
  const rowBytes = options.width * (SAMPLES_PER_PIXEL[colourType] ?? 1);
  if (options.samples.length !== rowBytes * options.height) {
    throw new Error(`encodePng needs ${rowBytes * options.height} samples, got ${options.samples.length}`);
  }

  const header = Buffer.alloc(13);
  header.writeUInt32BE(options.width, 0);
  header.writeUInt32BE(options.height, 4);
  header.writeUInt8(8, 8); // bit depth
  header.writeUInt8(colourType, 9);
  // Compression, filter and interlace methods stay 0, the only values PNG defines (interlace: none).

  const raw = Buffer.alloc((rowBytes + 1) * options.height);
  for (let row = 0; row < options.height; row++) {
    raw[row * (rowBytes + 1)] = 0;
    raw.set(options.samples.subarray(row * rowBytes, (row + 1) * rowBytes), row * (rowBytes + 1) + 1);
  }

  return Buffer.concat([PNG_SIGNATURE, chunk('IHDR', header), chunk('IDAT', deflateSync(raw)), chunk('IEND', Buffer.alloc(0))]);
}

/** Encodes a 4x4 8-bit grayscale bitmap with pixel values 0 (background), 1 and 2, as base64. */
export function makeSegmentationPngBase64(): string {
  const samples = Uint8Array.from([0, 0, 1, 1, 0, 0, 1, 1, 2, 2, 0, 0, 2, 2, 0, 0]);
  return encodePng({ width: 4, height: 4, samples }).toString('base64');
}
