/**
 * Validation against the official ASAM OpenLABEL 1.0.0 JSON schema (draft-07), with Ajv's errors
 * turned into findings a model can act on.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';

import { ConfigurationError } from '../../errors.js';
import { FindingList, isPlainObject, joinPointer, quote } from './findings.js';

/**
 * The schema file ships in the package's `schema/` folder. This module sits three folders below
 * the package root both as source (`src/predictions/validation/`) and as build output
 * (`dist/predictions/validation/`), so one relative URL serves both.
 */
const SCHEMA_URL = new URL('../../../schema/openlabel-1.0.0.schema.json', import.meta.url);

/** Maximum number of allowed keys or values listed in a message. */
const MAX_LISTED_NAMES = 8;

let compiledValidator: ValidateFunction | undefined;

/** Compiles the schema on first use; later calls reuse the compiled function. */
function getValidator(): ValidateFunction {
  if (compiledValidator !== undefined) {
    return compiledValidator;
  }

  let schema: unknown;
  try {
    schema = JSON.parse(readFileSync(SCHEMA_URL, 'utf8'));
  } catch (error) {
    throw new ConfigurationError(
      `Failed to read the OpenLABEL schema at ${fileURLToPath(SCHEMA_URL)}: ${(error as Error).message}. Reinstall the package.`,
    );
  }

  // `strict: false` because the official file has the misspelt keyword `item`, which Ajv would
  // otherwise reject. `verbose` keeps the failing value and schema on each error for the messages.
  // NOTE: with `allErrors`, Ajv copies the error list each time a nested validator returns, so
  // the time grows with the square of the error count. A 1 MB prediction with 28,000 schema
  // errors took about 0.3 s on a 2-core machine. Valid predictions are not affected.
  const ajv = new Ajv({ allErrors: true, strict: false, verbose: true });
  compiledValidator = ajv.compile(schema as object);
  return compiledValidator;
}

/** One schema problem after the branch errors of a failed `oneOf` or `anyOf` were merged. */
interface SchemaProblem {
  instancePath: string;
  schemaPath: string;
  keyword: string;
  params: Record<string, unknown>;
  message: string;
  data: unknown;
  schema: unknown;
  parentSchema: unknown;
  /** For a merged `oneOf` or `anyOf`: a description of each allowed form. */
  alternatives?: string[];
  /** For a merged `oneOf` or `anyOf`: true when the value had the wrong type for every form. */
  wrongTypeForAll?: boolean;
}

/** Validates `document` against the schema and adds a finding for each problem not already reported. */
export function addSchemaFindings(document: unknown, findings: FindingList): void {
  const validate = getValidator();
  if (validate(document)) {
    return;
  }

  for (const problem of mergeAlternatives(validate.errors ?? [])) {
    addProblem(problem, findings);
  }
}

function toProblem(error: ErrorObject): SchemaProblem {
  return {
    instancePath: error.instancePath,
    schemaPath: error.schemaPath,
    keyword: error.keyword,
    params: error.params as Record<string, unknown>,
    message: error.message ?? 'is invalid',
    data: error.data,
    schema: error.schema,
    parentSchema: error.parentSchema,
  };
}

function isAtOrBelow(pointer: string, base: string): boolean {
  return pointer === base || pointer.startsWith(`${base}/`);
}

/**
 * Replaces the errors of every failed `oneOf`/`anyOf` branch with something readable. When the
 * value has the right type for exactly one branch, that branch's own errors are kept, because they
 * point at the real fault (a cuboid `val` array that contains a string). Otherwise the branches
 * become one problem that lists the allowed forms.
 */
function mergeAlternatives(errors: ErrorObject[]): SchemaProblem[] {
  const problems: SchemaProblem[] = [];

  for (const error of errors) {
    if (error.keyword !== 'oneOf' && error.keyword !== 'anyOf') {
      problems.push(toProblem(error));
      continue;
    }

    const combinator = toProblem(error);
    const branchPrefix = `${error.schemaPath}/`;
    const isBranchProblem = (problem: SchemaProblem): boolean =>
      problem.schemaPath.startsWith(branchPrefix) && isAtOrBelow(problem.instancePath, error.instancePath);

    // Ajv checks the branches right before it reports the `oneOf` itself, so the branch errors
    // are the last ones collected.
    let firstBranchProblem = problems.length;
    while (firstBranchProblem > 0 && isBranchProblem(problems[firstBranchProblem - 1] as SchemaProblem)) {
      firstBranchProblem--;
    }
    const branchProblems = problems.splice(firstBranchProblem);

    const branches = Array.isArray(error.schema) ? (error.schema as unknown[]) : [];
    const wrongTypeBranches = new Set<number>();
    for (const problem of branchProblems) {
      const branchIndex = Number(problem.schemaPath.slice(branchPrefix.length).split('/')[0]);
      if (problem.keyword === 'type' && problem.instancePath === error.instancePath && problem.schemaPath === `${branchPrefix}${branchIndex}/type`) {
        wrongTypeBranches.add(branchIndex);
      }
    }

    const matchingTypeBranches = branches.map((_, index) => index).filter((index) => !wrongTypeBranches.has(index));
    if (matchingTypeBranches.length === 1) {
      const matchingBranchPrefix = `${branchPrefix}${matchingTypeBranches[0]}/`;
      problems.push(...branchProblems.filter((problem) => problem.schemaPath.startsWith(matchingBranchPrefix)));
      continue;
    }

    combinator.alternatives = branches.map(describeSchema);
    combinator.wrongTypeForAll = matchingTypeBranches.length === 0;
    problems.push(combinator);
  }

  return problems;
}

function withArticle(type: string): string {
  if (type === 'null') {
    return 'null';
  }
  return /^[aeiou]/.test(type) ? `an ${type}` : `a ${type}`;
}

/** Describes one allowed form in a few words, such as "an array of 9 to 10 numbers". */
function describeSchema(schema: unknown): string {
  if (!isPlainObject(schema)) {
    return 'another form';
  }

  const type = schema.type;
  if (type === 'array') {
    const items = schema.items;
    const itemType = isPlainObject(items) && typeof items.type === 'string' ? `${items.type}s` : 'values';
    const min = typeof schema.minItems === 'number' ? schema.minItems : undefined;
    const max = typeof schema.maxItems === 'number' ? schema.maxItems : undefined;
    let count = '';
    if (min !== undefined && min === max) {
      count = `${min} `;
    } else if (min !== undefined && max !== undefined) {
      count = `${min} to ${max} `;
    }
    return `an array of ${count}${itemType}`;
  }

  if (type === 'object') {
    const required = Array.isArray(schema.required) ? schema.required.map((key) => `"${String(key)}"`) : [];
    return required.length > 0 ? `an object with ${required.join(' and ')}` : 'an object';
  }

  if (typeof type === 'string') {
    return withArticle(type);
  }
  return 'another form';
}

function listNames(names: string[]): string {
  const listed = names.slice(0, MAX_LISTED_NAMES).join(', ');
  return names.length > MAX_LISTED_NAMES ? `${listed}, …` : listed;
}

function addProblem(problem: SchemaProblem, findings: FindingList): void {
  const { instancePath, params } = problem;

  switch (problem.keyword) {
    case 'required': {
      const key = String(params.missingProperty);
      const pointer = joinPointer(instancePath, key);
      const properties = isPlainObject(problem.parentSchema) ? problem.parentSchema.properties : undefined;
      const keySchema = isPlainObject(properties) ? properties[key] : undefined;
      const hint = isPlainObject(keySchema) && typeof keySchema.type === 'string' ? ` (${withArticle(keySchema.type)})` : '';
      addUnlessCovered(findings, pointer, 'missing_required_key', `Required key "${key}" is missing; add it${hint}.`);
      return;
    }

    case 'additionalProperties': {
      addUnknownKey(problem, findings);
      return;
    }

    case 'type': {
      const expected = Array.isArray(params.type) ? params.type.map(String) : String(params.type).split(',');
      const message = `Value ${quote(problem.data)} must be ${expected.map(withArticle).join(' or ')}.`;
      addUnlessCovered(findings, instancePath, 'wrong_type', message);
      return;
    }

    case 'enum': {
      const allowed = Array.isArray(params.allowedValues) ? params.allowedValues.map((value) => JSON.stringify(value)) : [];
      if (instancePath === '/openlabel/metadata/schema_version') {
        const message = `metadata.schema_version is ${quote(problem.data)}; set it to "1.0.0", the only version accepted.`;
        addUnlessCovered(findings, instancePath, 'invalid_schema_version', message);
        return;
      }
      addUnlessCovered(findings, instancePath, 'schema_violation', `Value ${quote(problem.data)} is not allowed; use one of ${listNames(allowed)}.`);
      return;
    }

    case 'minItems':
    case 'maxItems': {
      const count = Array.isArray(problem.data) ? problem.data.length : 0;
      const bound = problem.keyword === 'minItems' ? 'at least' : 'at most';
      const message = `Array has ${count} items but must have ${bound} ${String(params.limit)}.`;
      addUnlessCovered(findings, instancePath, 'schema_violation', message);
      return;
    }

    case 'oneOf':
    case 'anyOf': {
      const forms = (problem.alternatives ?? []).join(' or ');
      if (Array.isArray(params.passingSchemas)) {
        addUnlessCovered(findings, instancePath, 'schema_violation', `Value matches more than one allowed form (${forms}); keep only the keys of one.`);
      } else if (problem.wrongTypeForAll === true) {
        addUnlessCovered(findings, instancePath, 'wrong_type', `Value ${quote(problem.data)} must be ${forms}.`);
      } else {
        addUnlessCovered(findings, instancePath, 'schema_violation', `Value ${quote(problem.data)} matches none of the allowed forms: ${forms}.`);
      }
      return;
    }

    default:
      addUnlessCovered(findings, instancePath, 'schema_violation', `Value ${quote(problem.data)} ${problem.message}.`);
  }
}

/** Reports a key the schema does not allow: a bad frame or object key, or an unknown property. */
function addUnknownKey(problem: SchemaProblem, findings: FindingList): void {
  const key = String(problem.params.additionalProperty);
  const pointer = joinPointer(problem.instancePath, key);
  const parentSchema = isPlainObject(problem.parentSchema) ? problem.parentSchema : {};
  const isKeyedMap = parentSchema.patternProperties !== undefined && parentSchema.properties === undefined;

  if (isKeyedMap && problem.instancePath === '/openlabel/frames') {
    addUnlessCovered(findings, pointer, 'invalid_frame_key', `Frame key ${quote(key)} is not a non-negative integer; use keys such as "0", "1".`);
    return;
  }

  if (isKeyedMap && problem.instancePath.endsWith('/objects')) {
    addUnlessCovered(findings, pointer, 'invalid_object_key', `Object key ${quote(key)} is neither an integer nor a UUID; use a UUID.`);
    return;
  }

  if (isKeyedMap) {
    addUnlessCovered(findings, pointer, 'unknown_key', `Key ${quote(key)} must be an integer or a UUID.`);
    return;
  }

  const allowed = isPlainObject(parentSchema.properties) ? Object.keys(parentSchema.properties) : [];
  const hint =
    key === 'stream' && problem.instancePath.endsWith('/attributes')
      ? ' Give the stream as attributes.text [{"name": "stream", "val": "<stream>"}].'
      : '';
  addUnlessCovered(findings, pointer, 'unknown_key', `Key ${quote(key)} is not allowed here; allowed keys: ${listNames(allowed)}.${hint}`);
}

function addUnlessCovered(findings: FindingList, pointer: string, code: Parameters<FindingList['error']>[1], message: string): void {
  if (!findings.isCoveredByError(pointer)) {
    findings.error(pointer, code, message);
  }
}
