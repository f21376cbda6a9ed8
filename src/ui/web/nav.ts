/** Navigation by route (the location hash). */
import { formatRoute, type Route } from '../shared/route.js';

export function navigate(r: Route, replace = false): void {
  const h = formatRoute(r);
  if (!replace) {
    location.hash = h;
    return;
  }
  history.replaceState(null, '', h);
  window.dispatchEvent(new HashChangeEvent('hashchange'));
}
