/**
 * A connection URL fit to print or log: its credentials (`user:password@`) become `***@`.
 * Connection URLs (REDIS_URL, DATABASE_URL, the private Redis' own) may carry a password.
 */
export function redactUrl(url: string): string {
  return url.replace(/\/\/[^@/]*@/, "//***@");
}
