/**
 * The data a new sandbox starts with. Every UUID here is fixed, and scene UUIDs are derived from
 * a hash, so the demo, the examples and the tests can name them across runs.
 */

import { createHash } from 'node:crypto';

export type SeededDatasetKind = 'camera' | 'lidar' | 'segmentation';

export interface SeededDataset {
  uuid: string;
  name: string;
  sceneCount: number;
  kind: SeededDatasetKind;
  /** Stream names of the scenes: camera ids, and `@lidar` for the lidar. */
  streams: string[];
}

export interface SeededPredictionGroup {
  uuid: string;
  datasetUuid: string;
  name: string;
  description: string;
  created: string;
  classMapping?: Array<{ annotated: string; predicted?: string }>;
}

export const URBAN_CAMERA_DATASET_UUID = '3f2a9c1e-8b4d-4e6f-9a1b-2c3d4e5f6a70';
export const HIGHWAY_LIDAR_DATASET_UUID = '7c1e5b2a-4d3f-4a8e-b6c9-0d1e2f3a4b51';
export const ROAD_SEGMENTATION_DATASET_UUID = 'a4d8e2f6-1b3c-4d5e-8f7a-9b0c1d2e3f42';
export const PARKING_CAMERA_DATASET_UUID = 'c9b7a5e3-2f1d-4b0a-9e8c-7d6b5a4f3e23';
export const NIGHT_FUSION_DATASET_UUID = 'e1f3a5c7-9b2d-4e6f-a8b0-c2d4e6f8a014';

export const SEEDED_DATASETS: ReadonlyArray<SeededDataset> = [
  { uuid: URBAN_CAMERA_DATASET_UUID, name: 'Urban camera 2D', sceneCount: 400, kind: 'camera', streams: ['CAM_FRONT'] },
  { uuid: HIGHWAY_LIDAR_DATASET_UUID, name: 'Highway lidar 3D', sceneCount: 60, kind: 'lidar', streams: ['@lidar'] },
  {
    uuid: ROAD_SEGMENTATION_DATASET_UUID,
    name: 'Road segmentation',
    sceneCount: 10,
    kind: 'segmentation',
    streams: ['CAM_FRONT'],
  },
  {
    uuid: PARKING_CAMERA_DATASET_UUID,
    name: 'Parking lot cameras',
    sceneCount: 12,
    kind: 'camera',
    streams: ['CAM_FRONT', 'CAM_REAR'],
  },
  {
    uuid: NIGHT_FUSION_DATASET_UUID,
    name: 'Night drive fusion',
    sceneCount: 5,
    kind: 'lidar',
    streams: ['CAM_FRONT', '@lidar'],
  },
];

/** Creation time of every seeded dataset, so that listings are identical across runs. */
export const SEEDED_DATASET_CREATED = '2026-06-01T09:00:00.000Z';

export const SEEDED_PREDICTION_GROUPS: ReadonlyArray<SeededPredictionGroup> = [
  {
    uuid: '0b6f3d9a-5e2c-4a7b-8d1f-3c5e7a9b1d01',
    datasetUuid: URBAN_CAMERA_DATASET_UUID,
    name: 'yolov8-baseline',
    description: 'YOLOv8-L detections, confidence threshold 0.25',
    created: '2026-06-10T14:30:00.000Z',
  },
  {
    uuid: '1c7a4e0b-6f3d-4b8c-9e2a-4d6f8b0c2e02',
    datasetUuid: URBAN_CAMERA_DATASET_UUID,
    name: 'detr-r50-2026-11',
    description: 'DETR ResNet-50, November 2026 training run',
    created: '2026-11-20T08:15:00.000Z',
  },
  {
    uuid: '2d8b5f1c-7a4e-4c9d-af3b-5e7a9c1d3f03',
    datasetUuid: HIGHWAY_LIDAR_DATASET_UUID,
    name: 'centerpoint-v2',
    description: 'CenterPoint cuboids on the roof lidar',
    created: '2026-07-02T11:00:00.000Z',
  },
  {
    uuid: '3e9c6a2d-8b5f-4dae-b04c-6f8b0d2e4a04',
    datasetUuid: ROAD_SEGMENTATION_DATASET_UUID,
    name: 'segformer-b2',
    description: 'SegFormer-B2 road and lane masks',
    created: '2026-08-18T16:45:00.000Z',
    classMapping: [
      { annotated: '_background', predicted: 'background' },
      { annotated: 'road', predicted: 'drivable' },
      { annotated: 'lane_marking' },
    ],
  },
];

/** Returns a UUID with the version (4) and variant bits set, built from the first 16 bytes of `bytes`. */
export function formatAsUuidV4(bytes: Uint8Array): string {
  const octets = Buffer.from(bytes.subarray(0, 16));
  octets[6] = ((octets[6] ?? 0) & 0x0f) | 0x40;
  octets[8] = ((octets[8] ?? 0) & 0x3f) | 0x80;

  const hex = octets.toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20, 32)}`;
}

/**
 * Returns the scene UUIDs of a seeded dataset, in order. Scene `i` is the SHA-256 of
 * `<dataset uuid>/scene/<i>` formatted as a version 4 UUID, so the list is the same on every run.
 * Throws when `datasetUuid` is not one of SEEDED_DATASETS.
 */
export function seededSceneUuids(datasetUuid: string): string[] {
  const dataset = SEEDED_DATASETS.find((candidate) => candidate.uuid === datasetUuid);
  if (dataset === undefined) {
    throw new Error(`Dataset ${datasetUuid} is not a seeded dataset; use one of the UUIDs in SEEDED_DATASETS.`);
  }

  const sceneUuids: string[] = [];
  for (let index = 0; index < dataset.sceneCount; index += 1) {
    const digest = createHash('sha256').update(`${datasetUuid}/scene/${index}`).digest();
    sceneUuids.push(formatAsUuidV4(digest));
  }
  return sceneUuids;
}
