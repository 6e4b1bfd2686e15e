import { z } from 'zod';

import { MAX_PAGE_LIMIT, pageByName, pagingInputShape } from './input.js';
import { defineTool } from './define.js';
import { describeListedItems, fitListPage } from './list-result.js';

/** A dataset as the API lists it: its UUID and name, plus whatever scalar fields the API adds. */
export const listedItemSchema = z.looseObject({
  uuid: z.string(),
  name: z.string(),
});

export const listDatasetsOutputSchema = z.object({
  datasets: z.array(listedItemSchema),
  total: z.number().int().describe('Number of datasets that match the filter, over all pages.'),
  offset: z.number().int(),
  nextOffset: z.number().int().optional().describe('Offset of the next page; absent on the last page.'),
});

export const listDatasetsTool = defineTool({
  name: 'list_datasets',
  title: 'List Kognic datasets',
  description: [
    'List the Kognic datasets this account can see, with their UUIDs and names.',
    'Use it to find the dataset UUID that list_prediction_groups and create_prediction_group need.',
    `Returns at most \`limit\` datasets (default 50, at most ${MAX_PAGE_LIMIT}); filter with nameContains.`,
    'When nextOffset is present, call again with offset set to it for the next page.',
  ].join('\n'),
  inputSchema: z.object(pagingInputShape),
  outputSchema: listDatasetsOutputSchema,
  annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: true },

  async handler(args, context, extra) {
    const datasets = await context.kognic().datasetApi.listDatasets(extra.signal);
    const page = fitListPage(pageByName(datasets, args));

    const entryLines = describeListedItems(page.items);
    const more = page.nextOffset === undefined ? '' : `\nMore: call again with offset ${page.nextOffset}.`;
    return {
      structured: { datasets: page.items, total: page.total, offset: page.offset, nextOffset: page.nextOffset },
      text: `${page.total} dataset(s) match; showing ${page.items.length} from offset ${page.offset}.\n${entryLines}${more}`,
    };
  },
});
