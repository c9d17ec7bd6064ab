// What every page of the dashboard is to the app: an element, a render per frame with what changed, a teardown.
import type { Dirty } from './device-store.js';

export interface View {
  readonly element: HTMLElement;
  /** Title of the page, for document.title. */
  readonly title: string;
  /** Called after the element is in the document (sizes are known). */
  mounted?(): void;
  /** Called at most once per animation frame with what changed since the previous call. */
  render(dirty: Dirty): void;
  destroy(): void;
}
