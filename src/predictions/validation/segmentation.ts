/**
 * Kognic's rules for segmentation predictions: an `image` geometry holding a base64 8-bit
 * grayscale PNG, and an ontology that maps pixel values to class names.
 */
import { FindingList, isPlainObject, joinPointer, quote } from './findings.js';

const PNG_SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];

/** Signature (8), IHDR length and type (8) and the IHDR fields up to the colour type (10). */
const PNG_HEADER_BYTES = 26;

/** Base64 characters that decode to at least PNG_HEADER_BYTES bytes. */
const PNG_HEADER_BASE64_CHARS = 36;

const BASE64_PATTERN = /^[A-Za-z0-9+/]*={0,2}$/;

/** The largest pixel value of an 8-bit PNG, so the largest class key of the ontology. */
const MAX_PIXEL_VALUE = 255;

const PNG_COLOUR_TYPES: Readonly<Record<number, string>> = {
  0: 'grayscale',
  2: 'RGB',
  3: 'palette',
  4: 'grayscale with alpha',
  6: 'RGBA',
};

export interface PngHeader {
  width: number;
  height: number;
  bitDepth: number;
  colourType: number;
}

/** Reads the IHDR fields of a PNG file, or returns undefined when `bytes` do not start like a PNG. */
export function readPngHeader(bytes: Uint8Array): PngHeader | undefined {
  if (bytes.length < PNG_HEADER_BYTES) {
    return undefined;
  }
  for (let index = 0; index < PNG_SIGNATURE.length; index++) {
    if (bytes[index] !== PNG_SIGNATURE[index]) {
      return undefined;
    }
  }

  // The first chunk must be IHDR: length (4 bytes), then the type "IHDR".
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const chunkType = String.fromCharCode(bytes[12] ?? 0, bytes[13] ?? 0, bytes[14] ?? 0, bytes[15] ?? 0);
  if (chunkType !== 'IHDR') {
    return undefined;
  }

  return {
    width: view.getUint32(16),
    height: view.getUint32(20),
    bitDepth: view.getUint8(24),
    colourType: view.getUint8(25),
  };
}

/**
 * Checks an `image` geometry: mime type, encoding, and that `val` is base64 of an 8-bit grayscale
 * PNG. Only the signature and the IHDR chunk are read.
 */
// NOTE: the pixel data (IDAT) is not inflated, so a PNG with a valid header but corrupt pixel
// data passes here and is rejected only by Kognic.
export function checkImage(geometry: Record<string, unknown>, pointer: string, findings: FindingList): void {
  const { mime_type: mimeType, encoding, val } = geometry;

  if (mimeType !== 'image/png') {
    findings.error(joinPointer(pointer, 'mime_type'), 'invalid_image_encoding', `mime_type ${quote(mimeType)} is not accepted; set it to "image/png".`);
  }
  if (encoding !== 'base64') {
    findings.error(joinPointer(pointer, 'encoding'), 'invalid_image_encoding', `encoding ${quote(encoding)} is not accepted; set it to "base64".`);
  }
  if (typeof val !== 'string') {
    // The schema reports a `val` that is missing or not a string.
    return;
  }

  const valPointer = joinPointer(pointer, 'val');
  if (val.length % 4 !== 0 || !BASE64_PATTERN.test(val)) {
    const message = 'image val is not base64 text; encode the PNG file as base64 without line breaks or a data: prefix.';
    findings.error(valPointer, 'invalid_image_data', message);
    return;
  }

  const header = readPngHeader(Buffer.from(val.slice(0, PNG_HEADER_BASE64_CHARS), 'base64'));
  if (header === undefined) {
    findings.error(valPointer, 'invalid_image_data', 'image val does not decode to a PNG file; give the base64 of an 8-bit grayscale PNG.');
    return;
  }

  if (header.bitDepth !== 8 || header.colourType !== 0) {
    const colour = PNG_COLOUR_TYPES[header.colourType] ?? `colour type ${header.colourType}`;
    const message = `The PNG is ${header.bitDepth}-bit ${colour}; a segmentation bitmap must be 8-bit grayscale (one pixel value per class).`;
    findings.error(valPointer, 'unsupported_png_format', message);
  }
}

/** Checks that `ontologies` maps pixel values 0-255 to class names, as segmentation needs. */
export function checkSegmentationOntology(ontologies: unknown, findings: FindingList): void {
  const pointer = '/openlabel/ontologies';
  let found = false;

  if (isPlainObject(ontologies)) {
    for (const ontologyKey of Object.keys(ontologies)) {
      const ontology = ontologies[ontologyKey];
      if (!isPlainObject(ontology) || !isPlainObject(ontology.classifications)) {
        continue;
      }

      found = true;
      const classificationsPointer = joinPointer(pointer, ontologyKey, 'classifications');
      checkClassifications(ontology.classifications, classificationsPointer, findings);
    }
  }

  if (!found) {
    const message =
      'Segmentation needs ontologies mapping pixel values to classes, e.g. {"0": {"classifications": {"0": "_background", "1": "car"}, "uri": ""}}.';
    findings.error(pointer, 'missing_segmentation_ontology', message);
  }
}

function checkClassifications(classifications: Record<string, unknown>, pointer: string, findings: FindingList): void {
  const keys = Object.keys(classifications);
  if (keys.length === 0) {
    findings.error(pointer, 'missing_segmentation_ontology', 'classifications is empty; map each pixel value to a class, e.g. {"0": "_background", "1": "car"}.');
    return;
  }

  for (const key of keys) {
    const classPointer = joinPointer(pointer, key);
    if (!/^\d{1,3}$/.test(key) || Number(key) > MAX_PIXEL_VALUE) {
      findings.error(classPointer, 'invalid_segmentation_class', `Key ${quote(key)} is not a pixel value; use "0" to "${MAX_PIXEL_VALUE}" as keys.`);
    } else if (typeof classifications[key] !== 'string') {
      findings.error(classPointer, 'invalid_segmentation_class', `Class ${quote(classifications[key])} for pixel value ${key} must be a class name string.`);
    }
  }
}
