/** For the few user-supplied strings (names, emails, links) placed into HTML email bodies. */
export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}
