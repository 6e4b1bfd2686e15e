/** Typed endpoints of the Kognic dataset API: datasets, prediction groups and predictions. */
import { KognicResponseError } from './errors.js';
import type { KognicHttpClient, RequestOptions } from './http-client.js';

/**
 * A dataset or prediction group as listed by the API: its id, its name, and every other scalar
 * field the API sent, unchanged.
 */
export interface ListedItem {
  uuid: string;
  name: string;
  [field: string]: string | number | boolean | null;
}

export type Dataset = ListedItem;
export type PredictionGroup = ListedItem;

/** One class of a segmentation dataset: the annotated class name and, when it differs, the predicted one. */
export interface ClassMappingEntry {
  annotated: string;
  predicted?: string;
}

export interface CreatePredictionGroupInput {
  name: string;
  description?: string;
  /** Required by the API for segmentation datasets. */
  classMapping?: ClassMappingEntry[];
}

/**
 * Reads one item of a list response. Returns undefined when it has no id.
 *
 * NOTE: the item schemas are not published, so the parsing is tolerant. The id comes from
 * `uuid` or `id`, and a number id is turned into a string. The name comes from `name` or is ''.
 * Other scalar fields are kept, and nested objects and arrays are dropped.
 */
export function parseListedItem(raw: unknown): ListedItem | undefined {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    return undefined;
  }
  const fields = raw as Record<string, unknown>;

  let uuid: string | undefined;
  for (const key of ['uuid', 'id']) {
    const value = fields[key];
    if (typeof value === 'string' && value !== '') {
      uuid = value;
      break;
    }
    if (typeof value === 'number' && Number.isFinite(value)) {
      uuid = String(value);
      break;
    }
  }
  if (uuid === undefined) {
    return undefined;
  }

  const item: ListedItem = { uuid, name: '' };
  for (const [key, value] of Object.entries(fields)) {
    if (value === null || typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') {
      item[key] = value;
    }
  }
  item.uuid = uuid;
  item.name = typeof fields.name === 'string' ? fields.name : '';
  return item;
}

function pathSegment(value: string): string {
  return encodeURIComponent(value);
}

/**
 * Returns the request that creates one prediction: `POST /v1/predictions-groups/{uuid}/predictions`
 * with `{"sceneUuid": ..., "openlabelContent": <openlabelJson>}`. `openlabelJson` is the
 * serialised `{"openlabel": {...}}` document and is inserted as is, so the uploader serialises
 * each prediction once. The request is not retried, because every POST creates a new prediction.
 */
export function predictionRequest(
  groupUuid: string,
  sceneUuid: string,
  openlabelJson: string,
  signal?: AbortSignal,
): RequestOptions {
  return {
    method: 'POST',
    path: `/v1/predictions-groups/${pathSegment(groupUuid)}/predictions`,
    rawBody: `{"sceneUuid":${JSON.stringify(sceneUuid)},"openlabelContent":${openlabelJson}}`,
    signal,
    retry: 'none',
  };
}

/** The dataset API endpoints on top of a KognicHttpClient. */
export class DatasetApi {
  constructor(private readonly http: KognicHttpClient) {}

  /** Lists the datasets the credentials can see: `GET /v2/datasets`. */
  async listDatasets(signal?: AbortSignal): Promise<Dataset[]> {
    return this.list('/v2/datasets', signal);
  }

  /** Lists the prediction groups of a dataset: `GET /v1/datasets/{uuid}/predictions-groups`. */
  async listPredictionGroups(datasetUuid: string, signal?: AbortSignal): Promise<PredictionGroup[]> {
    return this.list(`/v1/datasets/${pathSegment(datasetUuid)}/predictions-groups`, signal);
  }

  /**
   * Creates a prediction group and returns its UUID: `POST /v1/datasets/{uuid}/predictions-groups`.
   * Not retried: a repeated POST would create a second group.
   */
  async createPredictionGroup(
    datasetUuid: string,
    input: CreatePredictionGroupInput,
    signal?: AbortSignal,
  ): Promise<string> {
    const path = `/v1/datasets/${pathSegment(datasetUuid)}/predictions-groups`;
    const body: Record<string, unknown> = { name: input.name };
    if (input.description !== undefined) {
      body.description = input.description;
    }
    if (input.classMapping !== undefined) {
      body.classMapping = input.classMapping;
    }

    const response = await this.http.request({ method: 'POST', path, body, signal, retry: 'none' });

    // Kognic's docs show the new UUID as a string in `data`; an object with an id is accepted too.
    if (typeof response.data === 'string' && response.data !== '') {
      return response.data;
    }
    const item = parseListedItem(response.data);
    if (item !== undefined) {
      return item.uuid;
    }
    throw new KognicResponseError(
      `Kognic API returned HTTP ${response.status} for POST ${path} without the new prediction group's UUID in "data"; ` +
        'list the prediction groups to check whether it was created.',
      response.status,
      'POST',
      path,
    );
  }

  private async list(path: string, signal: AbortSignal | undefined): Promise<ListedItem[]> {
    const response = await this.http.request({ method: 'GET', path, signal });
    if (!Array.isArray(response.data)) {
      throw new KognicResponseError(
        `Kognic API returned HTTP ${response.status} for GET ${path} with "data" that is not a list; check the API URL.`,
        response.status,
        'GET',
        path,
      );
    }

    // Items without an id cannot be referred to by any tool, so they are left out.
    const items: ListedItem[] = [];
    for (const raw of response.data) {
      const item = parseListedItem(raw);
      if (item !== undefined) {
        items.push(item);
      }
    }
    return items;
  }
}
