/**
 * The signing API's refusals are RFC 9457 problem details (application/problem+json): this reads
 * one, checks its shape, and returns its field errors as lines `<pointer>: <detail>` (`(body)`
 * for the whole body), the form tests match.
 */
import { expect } from 'vitest';

export interface ProblemBody {
  type: string;
  title: string;
  status: number;
  detail: string;
  errors?: { pointer: string; detail: string }[];
}

export async function problemOf(response: Response, status?: number): Promise<ProblemBody> {
  if (status !== undefined) expect(response.status).toBe(status);
  expect(response.headers.get('content-type')).toBe('application/problem+json');
  const body = (await response.json()) as ProblemBody;
  expect(body.type).toMatch(/^urn:tokengate:problem:[a-z-]+$/);
  expect(body.status).toBe(response.status);
  expect(typeof body.title).toBe('string');
  expect(typeof body.detail).toBe('string');
  return body;
}

export async function fieldProblems(response: Response): Promise<string[]> {
  const body = await problemOf(response, 400);
  expect(body.type).toBe('urn:tokengate:problem:invalid-request');
  return (body.errors ?? []).map(({ pointer, detail }) => `${pointer === '' ? '(body)' : pointer}: ${detail}`);
}
