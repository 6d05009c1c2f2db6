/**
 * Raw upgrade requests for refusal tests: the HTTP status, headers and JSON body a refused
 * upgrade gets (TestClient.refusal keeps no headers, and docs/protocol.md fixes the Content-Type).
 */
import WebSocket from 'ws';

export interface UpgradeOutcome {
  status: number;
  contentType: string | undefined;
  body: string;
}

/** Resolves with the refusal, or with status 101 when the upgrade was accepted (then closed). */
export function tryUpgrade(
  url: string,
  headers: Record<string, string> = {},
  query = '',
): Promise<UpgradeOutcome> {
  const ws = new WebSocket(`${url}/ws${query}`, { headers });
  return new Promise((done, reject) => {
    ws.once('open', () => {
      ws.close(1000);
      done({ status: 101, contentType: undefined, body: '' });
    });
    ws.once('unexpected-response', (_request, response) => {
      let body = '';
      response.on('data', (chunk: Buffer) => (body += chunk.toString()));
      response.on('end', () =>
        done({ status: response.statusCode ?? 0, contentType: response.headers['content-type'], body }),
      );
    });
    ws.once('error', (error) => reject(error));
  });
}

/** The parsed JSON body of a refusal, with the status and Content-Type checked by the caller. */
export function jsonBody(outcome: UpgradeOutcome): unknown {
  try {
    return JSON.parse(outcome.body);
  } catch {
    return `not JSON: ${outcome.body}`;
  }
}
