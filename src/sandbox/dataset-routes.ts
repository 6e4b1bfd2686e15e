/**
 * Route matching for every path the sandbox serves, and the dataset-API handlers. Handlers take
 * an authenticated request whose body was already read and return a Reply. They perform their
 * effect (a new group or prediction) when called, so the server calls them only when it is
 * about to respond.
 */

import { type JsonParseResult, type Reply, dataReply, errorReply, isPlainObject, mediaType } from './http.js';
import type { SandboxStore } from './store.js';
import { TOKEN_PATH } from './token-route.js';
import type { ClassMappingEntry, SandboxRoute } from './types.js';

export type RouteMatch =
  | { route: SandboxRoute; datasetUuid?: string; groupUuid?: string }
  | { route: 'unknown'; allowedMethods?: string[] };

interface RoutePattern {
  pattern: RegExp;
  /** Route for each method served on this path. */
  methods: Record<string, SandboxRoute>;
  /** Name of the captured path parameter, if the path has one. */
  parameter?: 'datasetUuid' | 'groupUuid';
}

const ROUTE_PATTERNS: RoutePattern[] = [
  { pattern: new RegExp(`^${TOKEN_PATH}$`), methods: { POST: 'token' } },
  { pattern: /^\/v2\/datasets$/, methods: { GET: 'listDatasets' } },
  {
    pattern: /^\/v1\/datasets\/([^/]+)\/predictions-groups$/,
    methods: { GET: 'listGroups', POST: 'createGroup' },
    parameter: 'datasetUuid',
  },
  { pattern: /^\/v1\/predictions-groups\/([^/]+)\/predictions$/, methods: { POST: 'createPrediction' }, parameter: 'groupUuid' },
];

/** Matches a method and a path without query string. A known path with another method has `allowedMethods`. */
export function matchRoute(method: string, path: string): RouteMatch {
  for (const { pattern, methods, parameter } of ROUTE_PATTERNS) {
    const match = pattern.exec(path);
    if (match === null) {
      continue;
    }

    const route = methods[method];
    if (route === undefined) {
      return { route: 'unknown', allowedMethods: Object.keys(methods) };
    }

    const captured = match[1] === undefined ? undefined : safeDecodePathSegment(match[1]);
    return parameter === undefined || captured === undefined ? { route } : { route, [parameter]: captured };
  }
  return { route: 'unknown' };
}

/** Returns the 404 or 405 reply for a request that matched no route. */
export function unknownRouteReply(method: string, path: string, match: RouteMatch): Reply {
  if (match.route === 'unknown' && match.allowedMethods !== undefined) {
    const allowed = match.allowedMethods.join(', ');
    return errorReply(405, `Method ${method} is not allowed on ${path}; use ${allowed}.`, { allow: allowed });
  }
  return errorReply(404, `No route for ${method} ${path}; check the API base URL and the path.`);
}

export interface DatasetRequest {
  match: RouteMatch & { route: Exclude<SandboxRoute, 'token'> };
  contentType: string | undefined;
  /** The parsed body of a POST; unset for GET routes. */
  json?: JsonParseResult;
}

/** Handles one dataset-API request that has already passed the bearer token check. */
export function handleDatasetRequest(request: DatasetRequest, store: SandboxStore): Reply {
  const { match } = request;

  switch (match.route) {
    case 'listDatasets':
      return listDatasets(store);
    case 'listGroups':
      return listGroups(match.datasetUuid ?? '', store);
    case 'createGroup':
      return createGroup(match.datasetUuid ?? '', request, store);
    case 'createPrediction':
      return createPrediction(match.groupUuid ?? '', request, store);
  }
}

function listDatasets(store: SandboxStore): Reply {
  const datasets = store.listDatasets().map((dataset) => ({
    uuid: dataset.uuid,
    name: dataset.name,
    created: dataset.created,
    sceneCount: dataset.sceneCount,
    ...dataset.extra,
  }));
  return dataReply(datasets);
}

function listGroups(datasetUuid: string, store: SandboxStore): Reply {
  if (store.findDataset(datasetUuid) === undefined) {
    return datasetNotFound(datasetUuid);
  }

  const groups = store.listGroups(datasetUuid).map((group) => ({
    uuid: group.uuid,
    name: group.name,
    description: group.description,
    created: group.created,
    datasetUuid: group.datasetUuid,
  }));
  return dataReply(groups);
}

function createGroup(datasetUuid: string, request: DatasetRequest, store: SandboxStore): Reply {
  const dataset = store.findDataset(datasetUuid);
  if (dataset === undefined) {
    return datasetNotFound(datasetUuid);
  }

  const body = readJsonObject(request);
  if (!body.ok) {
    return body.reply;
  }

  const { name, description, classMapping } = body.value;
  if (typeof name !== 'string' || name.trim() === '') {
    return errorReply(400, 'Field name is missing or empty; give the prediction group a name.');
  }
  if (description !== undefined && typeof description !== 'string') {
    return errorReply(400, `Field description must be a string, got ${describeJsonType(description)}.`);
  }

  const mapping = readClassMapping(classMapping);
  if (!mapping.ok) {
    return mapping.reply;
  }
  if (dataset.segmentation && (mapping.value === undefined || mapping.value.length === 0)) {
    return errorReply(
      400,
      `Dataset ${datasetUuid} is a segmentation dataset, so classMapping is required; ` +
        'list every class as {"annotated": "<class>", "predicted": "<class>"}.',
    );
  }

  const groupUuid = store.addGroup(datasetUuid, {
    name,
    ...(description === undefined ? {} : { description }),
    ...(mapping.value === undefined ? {} : { classMapping: mapping.value }),
  });
  return dataReply(groupUuid);
}

function createPrediction(groupUuid: string, request: DatasetRequest, store: SandboxStore): Reply {
  const group = store.findGroup(groupUuid);
  if (group === undefined) {
    return errorReply(404, `Prediction group ${groupUuid} was not found; list the dataset's prediction groups to find its UUID.`);
  }

  const body = readJsonObject(request);
  if (!body.ok) {
    return body.reply;
  }

  const { sceneUuid, openlabelContent } = body.value;
  if (typeof sceneUuid !== 'string' || sceneUuid === '') {
    return errorReply(400, 'Field sceneUuid is missing or not a non-empty string; give the UUID of a scene in the dataset.');
  }
  if (!isPlainObject(openlabelContent)) {
    return errorReply(400, `Field openlabelContent must be an object {"openlabel": {...}}, got ${describeJsonType(openlabelContent)}.`);
  }
  if (!isPlainObject(openlabelContent.openlabel)) {
    return errorReply(
      400,
      `Field openlabelContent.openlabel must be an object, got ${describeJsonType(openlabelContent.openlabel)}.`,
    );
  }

  // NOTE: the status and message the real API returns for a scene outside the group's dataset
  // are not documented; 400 with this message is a guess.
  if (!store.hasScene(group.datasetUuid, sceneUuid)) {
    return errorReply(400, `Scene ${sceneUuid} is not part of dataset ${group.datasetUuid}`);
  }

  const prediction = store.addPrediction(groupUuid, sceneUuid, openlabelContent);
  return dataReply(prediction.uuid);
}

type ReadResult<T> = { ok: true; value: T } | { ok: false; reply: Reply };

/**
 * Checks that a POST body is a JSON object sent as `application/json`.
 * NOTE: whether the real API responds with 415 to another Content-Type is a guess.
 */
function readJsonObject(request: DatasetRequest): ReadResult<Record<string, unknown>> {
  const type = mediaType(request.contentType);
  if (type !== 'application/json') {
    return {
      ok: false,
      reply: errorReply(415, `Content-Type must be application/json, got ${type ?? 'none'}; send the body as JSON.`),
    };
  }

  const json = request.json;
  if (json === undefined || !json.ok) {
    const reason = json === undefined || json.ok ? 'no body' : json.error;
    return { ok: false, reply: errorReply(400, `Request body is not valid JSON: ${reason}.`) };
  }
  if (!isPlainObject(json.value)) {
    return { ok: false, reply: errorReply(400, `Request body must be a JSON object, got ${describeJsonType(json.value)}.`) };
  }
  return { ok: true, value: json.value };
}

function readClassMapping(value: unknown): ReadResult<ClassMappingEntry[] | undefined> {
  if (value === undefined) {
    return { ok: true, value: undefined };
  }
  if (!Array.isArray(value)) {
    return { ok: false, reply: errorReply(400, `Field classMapping must be an array, got ${describeJsonType(value)}.`) };
  }

  const entries: ClassMappingEntry[] = [];
  for (const [index, entry] of value.entries()) {
    if (!isPlainObject(entry) || typeof entry.annotated !== 'string' || entry.annotated === '') {
      return {
        ok: false,
        reply: errorReply(400, `classMapping[${index}].annotated is missing or not a non-empty string.`),
      };
    }
    if (entry.predicted !== undefined && typeof entry.predicted !== 'string') {
      return {
        ok: false,
        reply: errorReply(400, `classMapping[${index}].predicted must be a string, got ${describeJsonType(entry.predicted)}.`),
      };
    }

    entries.push(entry.predicted === undefined ? { annotated: entry.annotated } : { annotated: entry.annotated, predicted: entry.predicted });
  }
  return { ok: true, value: entries };
}

function datasetNotFound(datasetUuid: string): Reply {
  return errorReply(404, `Dataset ${datasetUuid} was not found; list the datasets with GET /v2/datasets to find its UUID.`);
}

function describeJsonType(value: unknown): string {
  if (value === undefined) {
    return 'nothing';
  }
  if (value === null) {
    return 'null';
  }
  return Array.isArray(value) ? 'an array' : `a ${typeof value}`;
}

function safeDecodePathSegment(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}
