import { z } from 'zod';

import { defineTool } from './define.js';
import { MAX_PAGE_LIMIT, pageByName, pagingInputShape, uuidInput } from './input.js';
import { listedItemSchema } from './list-datasets.js';
import { describeListedItems, fitListPage } from './list-result.js';

export const listPredictionGroupsOutputSchema = z.object({
  datasetUuid: z.string(),
  predictionGroups: z.array(listedItemSchema),
  total: z.number().int().describe('Number of prediction groups that match the filter, over all pages.'),
  offset: z.number().int(),
  nextOffset: z.number().int().optional().describe('Offset of the next page; absent on the last page.'),
});

export const listPredictionGroupsTool = defineTool({
  name: 'list_prediction_groups',
  title: 'List prediction groups of a dataset',
  description: [
    'List the prediction groups of one Kognic dataset, with their UUIDs and names.',
    'Use it to find the predictionGroupUuid for upload_predictions, or to check whether a group exists before creating one.',
    `Returns at most \`limit\` groups (default 50, at most ${MAX_PAGE_LIMIT}); filter with nameContains.`,
    'When nextOffset is present, call again with offset set to it for the next page.',
  ].join('\n'),
  inputSchema: z.object({
    datasetUuid: uuidInput('dataset', 'list_datasets returns the dataset UUIDs'),
    ...pagingInputShape,
  }),
  outputSchema: listPredictionGroupsOutputSchema,
  annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: true },

  async handler(args, context, extra) {
    const groups = await context.kognic().datasetApi.listPredictionGroups(args.datasetUuid, extra.signal);
    const page = fitListPage(pageByName(groups, args));

    const entryLines = describeListedItems(page.items);
    const more = page.nextOffset === undefined ? '' : `\nMore: call again with offset ${page.nextOffset}.`;
    return {
      structured: {
        datasetUuid: args.datasetUuid,
        predictionGroups: page.items,
        total: page.total,
        offset: page.offset,
        nextOffset: page.nextOffset,
      },
      text: `${page.total} prediction group(s) match in dataset ${args.datasetUuid}; showing ${page.items.length} from offset ${page.offset}.\n${entryLines}${more}`,
    };
  },
});
