/** In-memory datasets, scenes, prediction groups and predictions of one sandbox. */

import { randomUUID } from 'node:crypto';

import { SEEDED_DATASET_CREATED, SEEDED_DATASETS, SEEDED_PREDICTION_GROUPS, seededSceneUuids } from './seed.js';
import type { ClassMappingEntry, SandboxDataset, SandboxGroup, SandboxPrediction } from './types.js';

interface DatasetRecord {
  uuid: string;
  name: string;
  created: string;
  segmentation: boolean;
  extra: Record<string, string | number | boolean>;
  sceneUuids: string[];
  sceneSet: Set<string>;
}

interface GroupRecord extends SandboxGroup {
  predictions: SandboxPrediction[];
}

export interface NewDataset {
  name: string;
  sceneCount?: number;
  uuid?: string;
  segmentation?: boolean;
  extra?: Record<string, string | number | boolean>;
  /** ISO 8601 creation time; defaults to now. */
  created?: string;
}

export interface NewGroup {
  name: string;
  description?: string;
  classMapping?: ClassMappingEntry[];
  uuid?: string;
  created?: string;
}

export class SandboxStore {
  private readonly datasets = new Map<string, DatasetRecord>();
  private readonly groups = new Map<string, GroupRecord>();

  constructor(private readonly keepPredictionContent: boolean) {}

  loadSeed(): void {
    for (const seeded of SEEDED_DATASETS) {
      this.addDataset({
        name: seeded.name,
        uuid: seeded.uuid,
        segmentation: seeded.kind === 'segmentation',
        created: SEEDED_DATASET_CREATED,
      });
      this.registerScenes(seeded.uuid, seededSceneUuids(seeded.uuid));
    }

    for (const group of SEEDED_PREDICTION_GROUPS) {
      this.addGroup(group.datasetUuid, group);
    }
  }

  addDataset(input: NewDataset): { uuid: string; sceneUuids: string[] } {
    const uuid = input.uuid ?? randomUUID();
    if (this.datasets.has(uuid)) {
      throw new Error(`Dataset ${uuid} already exists in the sandbox; pass another uuid or none.`);
    }

    this.datasets.set(uuid, {
      uuid,
      name: input.name,
      created: input.created ?? new Date().toISOString(),
      segmentation: input.segmentation ?? false,
      extra: { ...input.extra },
      sceneUuids: [],
      sceneSet: new Set(),
    });

    const sceneUuids = this.addScenes(uuid, input.sceneCount ?? 0);
    return { uuid, sceneUuids };
  }

  /** Registers `count` new random scene UUIDs to the dataset and returns them. */
  addScenes(datasetUuid: string, count: number): string[] {
    if (!Number.isInteger(count) || count < 0) {
      throw new Error(`Scene count ${count} is invalid; pass a non-negative integer.`);
    }

    const sceneUuids = Array.from({ length: count }, () => randomUUID());
    this.registerScenes(datasetUuid, sceneUuids);
    return sceneUuids;
  }

  /** Adds a prediction group without the checks of the HTTP route and returns its UUID. */
  addGroup(datasetUuid: string, input: NewGroup): string {
    this.requireDataset(datasetUuid);

    const uuid = input.uuid ?? randomUUID();
    const group: GroupRecord = {
      uuid,
      name: input.name,
      description: input.description ?? '',
      created: input.created ?? new Date().toISOString(),
      datasetUuid,
      predictions: [],
    };
    if (input.classMapping !== undefined) {
      group.classMapping = input.classMapping.map((entry) => ({ ...entry }));
    }

    this.groups.set(uuid, group);
    return uuid;
  }

  /** Stores a new prediction; every call creates one, as the real API has no deduplication. */
  addPrediction(groupUuid: string, sceneUuid: string, content: unknown): SandboxPrediction {
    const group = this.requireGroup(groupUuid);
    const prediction: SandboxPrediction = { uuid: randomUUID(), sceneUuid, createdAt: Date.now() };
    if (this.keepPredictionContent) {
      prediction.content = content;
    }

    group.predictions.push(prediction);
    return prediction;
  }

  findDataset(uuid: string): SandboxDataset | undefined {
    const dataset = this.datasets.get(uuid);
    return dataset === undefined ? undefined : snapshotDataset(dataset);
  }

  findGroup(uuid: string): SandboxGroup | undefined {
    const group = this.groups.get(uuid);
    return group === undefined ? undefined : snapshotGroup(group);
  }

  hasScene(datasetUuid: string, sceneUuid: string): boolean {
    return this.datasets.get(datasetUuid)?.sceneSet.has(sceneUuid) ?? false;
  }

  listDatasets(): SandboxDataset[] {
    return [...this.datasets.values()].map(snapshotDataset);
  }

  /** Returns the groups of a dataset in creation order; throws when the dataset is unknown. */
  listGroups(datasetUuid: string): SandboxGroup[] {
    this.requireDataset(datasetUuid);
    return [...this.groups.values()].filter((group) => group.datasetUuid === datasetUuid).map(snapshotGroup);
  }

  /** Returns the predictions of a group in creation order; throws when the group is unknown. */
  predictions(groupUuid: string): SandboxPrediction[] {
    return this.requireGroup(groupUuid).predictions.map((prediction) => ({ ...prediction }));
  }

  predictionCountByScene(groupUuid: string): Map<string, number> {
    const counts = new Map<string, number>();
    for (const prediction of this.requireGroup(groupUuid).predictions) {
      counts.set(prediction.sceneUuid, (counts.get(prediction.sceneUuid) ?? 0) + 1);
    }
    return counts;
  }

  private registerScenes(datasetUuid: string, sceneUuids: string[]): void {
    const dataset = this.requireDataset(datasetUuid);
    for (const sceneUuid of sceneUuids) {
      if (!dataset.sceneSet.has(sceneUuid)) {
        dataset.sceneSet.add(sceneUuid);
        dataset.sceneUuids.push(sceneUuid);
      }
    }
  }

  private requireDataset(uuid: string): DatasetRecord {
    const dataset = this.datasets.get(uuid);
    if (dataset === undefined) {
      throw new Error(`Dataset ${uuid} does not exist in the sandbox; add it with addDataset() first.`);
    }
    return dataset;
  }

  private requireGroup(uuid: string): GroupRecord {
    const group = this.groups.get(uuid);
    if (group === undefined) {
      throw new Error(`Prediction group ${uuid} does not exist in the sandbox; create it with addPredictionGroup() first.`);
    }
    return group;
  }
}

function snapshotDataset(dataset: DatasetRecord): SandboxDataset {
  return {
    uuid: dataset.uuid,
    name: dataset.name,
    created: dataset.created,
    sceneCount: dataset.sceneUuids.length,
    sceneUuids: [...dataset.sceneUuids],
    segmentation: dataset.segmentation,
    extra: { ...dataset.extra },
  };
}

function snapshotGroup(group: GroupRecord): SandboxGroup {
  const snapshot: SandboxGroup = {
    uuid: group.uuid,
    name: group.name,
    description: group.description,
    created: group.created,
    datasetUuid: group.datasetUuid,
  };
  if (group.classMapping !== undefined) {
    snapshot.classMapping = group.classMapping.map((entry) => ({ ...entry }));
  }
  return snapshot;
}
