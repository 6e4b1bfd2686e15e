import { z } from 'zod';

import { defineTool } from './define.js';
import { arrayInput, uuidInput } from './input.js';

/** Maximum group name length accepted here. NOTE: the API's own limit is not documented, so this only guards against accidents. */
export const MAX_GROUP_NAME_LENGTH = 200;
export const MAX_GROUP_DESCRIPTION_LENGTH = 2_000;

const classMappingEntrySchema = z.object({
  annotated: z.string().min(1).describe('Class name in the dataset annotations, e.g. "_background" or "car".'),
  predicted: z
    .string()
    .min(1)
    .optional()
    .describe('Class name in the predictions that maps to it; omit when the prediction uses the same name.'),
});

export const createPredictionGroupOutputSchema = z.object({
  predictionGroupUuid: z.string(),
  datasetUuid: z.string(),
  name: z.string(),
});

export const createPredictionGroupTool = defineTool({
  name: 'create_prediction_group',
  title: 'Create a prediction group',
  description: [
    'Create a new prediction group in a Kognic dataset and return its UUID.',
    'Use it once per model run you want to evaluate, then pass the UUID to upload_predictions.',
    'Every call creates a new group, even with a name that already exists: call list_prediction_groups first to reuse one.',
    'Segmentation datasets need classMapping: every class name of the predictions and the annotations, including "_background".',
  ].join('\n'),
  inputSchema: z.object({
    datasetUuid: uuidInput('dataset', 'list_datasets returns the dataset UUIDs'),
    name: z
      .string()
      .trim()
      .min(1, { error: 'expected a group name, got an empty string' })
      .max(MAX_GROUP_NAME_LENGTH, {
        error: (issue) => `expected a name of at most ${MAX_GROUP_NAME_LENGTH} characters, got ${String(issue.input).length}; shorten it`,
      })
      .describe('Name of the group as shown in Kognic, e.g. the model name and version.'),
    description: z
      .string()
      .max(MAX_GROUP_DESCRIPTION_LENGTH, {
        error: (issue) => `expected a description of at most ${MAX_GROUP_DESCRIPTION_LENGTH} characters, got ${String(issue.input).length}; shorten it`,
      })
      .optional()
      .describe('Free text shown with the group.'),
    classMapping: arrayInput(classMappingEntrySchema)
      .optional()
      .describe('Required for segmentation datasets: list of {annotated, predicted?} class names.'),
  }),
  outputSchema: createPredictionGroupOutputSchema,
  annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: true },

  async handler(args, context, extra) {
    const predictionGroupUuid = await context.kognic().datasetApi.createPredictionGroup(
      args.datasetUuid,
      { name: args.name, description: args.description, classMapping: args.classMapping },
      extra.signal,
    );

    context.logger.info('prediction group created', { dataset: args.datasetUuid, group: predictionGroupUuid });
    return {
      structured: { predictionGroupUuid, datasetUuid: args.datasetUuid, name: args.name },
      text: `Created prediction group "${args.name}" with UUID ${predictionGroupUuid} in dataset ${args.datasetUuid}. Pass it to upload_predictions as predictionGroupUuid.`,
    };
  },
});
