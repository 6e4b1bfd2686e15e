/**
 * Fits one page of a list tool into a tool result of bounded size. A page of 200 entries with
 * long names and descriptions would otherwise make a result of hundreds of thousands of
 * characters, and a cut of its text would drop entries without saying so.
 */
import type { ListedItem } from '../kognic/dataset-api.js';
import { cutText, MAX_STRUCTURED_CHARS, MAX_TEXT_JSON_CHARS } from '../predictions/summary.js';
import type { Page } from './input.js';

/** JSON length of one string field of a listed entry; longer values end in an ellipsis. */
export const MAX_LISTED_FIELD_JSON_CHARS = 300;

/** JSON length of an entry's name in the text result. */
const MAX_TEXT_NAME_JSON_CHARS = 100;

/** Characters kept free in each budget for the fields and lines around the entries. */
const PAGE_OVERHEAD_CHARS = 1_000;

/**
 * Returns the page with long string fields cut, and with as many entries as fit in the
 * structured share of a result. When entries had to go, `nextOffset` points at the first of
 * them, so that the caller pages on without losing any.
 */
export function fitListPage(page: Page<ListedItem>): Page<ListedItem> {
  const items: ListedItem[] = [];
  let jsonChars = 0;

  for (const item of page.items) {
    const fitted = cutStringFields(item);
    const itemChars = JSON.stringify(fitted).length + 1;
    if (items.length > 0 && jsonChars + itemChars > MAX_STRUCTURED_CHARS - PAGE_OVERHEAD_CHARS) {
      break;
    }
    items.push(fitted);
    jsonChars += itemChars;
  }

  if (items.length === page.items.length) {
    return { ...page, items };
  }
  return { ...page, items, nextOffset: page.offset + items.length };
}

/**
 * Writes one line per entry, `<uuid>  <name>`, for as many entries as fit in the text's share of
 * a result, and counts the ones that only the structured result lists.
 */
export function describeListedItems(items: readonly ListedItem[]): string {
  const lines: string[] = [];
  let jsonChars = 0;

  for (const item of items) {
    const line = `${item.uuid}  ${cutText(item.name, MAX_TEXT_NAME_JSON_CHARS)}`;
    const lineChars = JSON.stringify(line).length;
    if (jsonChars + lineChars > MAX_TEXT_JSON_CHARS - PAGE_OVERHEAD_CHARS) {
      break;
    }
    lines.push(line);
    jsonChars += lineChars;
  }

  if (lines.length < items.length) {
    lines.push(`The text shows ${lines.length} of the ${items.length} entries on this page; the structured result lists all of them.`);
  }
  return lines.join('\n');
}

function cutStringFields(item: ListedItem): ListedItem {
  const fitted: ListedItem = { ...item };
  for (const [key, value] of Object.entries(item)) {
    // The UUID is an id that must stay whole; the API's ids are far shorter than the limit.
    if (key !== 'uuid' && typeof value === 'string') {
      fitted[key] = cutText(value, MAX_LISTED_FIELD_JSON_CHARS);
    }
  }
  return fitted;
}
