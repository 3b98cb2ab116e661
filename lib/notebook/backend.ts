/** The backend choice of `initBackend` as a small table: what runs, with what, and what was skipped. */
import type { BackendChoice } from '../backend';
import { display } from './display';
import { Row, tableHtml } from './table';

export function backendRows(choice: BackendChoice): Row[] {
  return [
    { item: 'backend', value: choice.kind },
    { item: 'tfjs backend', value: choice.tfBackend },
    ...choice.details.map((d) => ({ item: 'detail', value: d })),
    ...choice.skipped.map((s) => ({ item: `skipped ${s.kind}`, value: s.reason })),
  ];
}

export function showBackend(choice: BackendChoice): void {
  display().html(tableHtml(backendRows(choice)));
}
