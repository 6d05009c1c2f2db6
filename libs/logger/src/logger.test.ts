import { Writable } from 'node:stream';
import { createLogger, type Logger } from './index';

const JWT =
  'eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJhbGljZSIsImV4cCI6MTczMjMwMDAwMH0.c2lnbmF0dXJlc2lnbmF0dXJlc2lnbmF0dXJl';
const JWT_LOOKING = /eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+/;

/** A logger writing JSON lines synchronously into memory. */
function memoryLogger(): {
  log: Logger;
  lines: () => Array<Record<string, unknown>>;
  only: () => Record<string, unknown>;
  text: () => string;
} {
  const chunks: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer | string, _encoding, done) {
      chunks.push(chunk.toString());
      done();
    },
  });
  const log = createLogger({ name: 't', pretty: false }, stream);
  const text = () => chunks.join('');
  const lines = () =>
    text()
      .split('\n')
      .filter((line) => line.length > 0)
      .map((line) => JSON.parse(line) as Record<string, unknown>);
  const only = () => {
    const [line, ...rest] = lines();
    if (line === undefined || rest.length > 0) throw new Error(`expected one log line, got: ${text()}`);
    return line;
  };
  return { log, lines, only, text };
}

describe('createLogger', () => {
  it('writes JSON lines with the name, level and normal fields intact', () => {
    const { log, lines, only } = memoryLogger();
    log.info(
      {
        user: 'alice',
        session: 's-1',
        count: 3,
        req: { method: 'GET', headers: { host: 'x' } },
      },
      'hello',
    );
    expect(lines()).toHaveLength(1);
    expect(only()).toMatchObject({
      name: 't',
      level: 30,
      msg: 'hello',
      user: 'alice',
      session: 's-1',
      count: 3,
      req: { method: 'GET', headers: { host: 'x' } },
    });
  });

  it('respects the level', () => {
    const chunks: string[] = [];
    const stream = new Writable({
      write(chunk: Buffer, _e, done) {
        chunks.push(chunk.toString());
        done();
      },
    });
    const log = createLogger({ name: 't', level: 'warn', pretty: false }, stream);
    log.info('quiet');
    log.warn('loud');
    expect(chunks.join('')).not.toContain('quiet');
    expect(chunks.join('')).toContain('loud');
  });

  it.each<[string, Record<string, unknown>, (line: Record<string, unknown>) => unknown]>([
    ['authorization', { authorization: `Bearer ${JWT}` }, (l) => l.authorization],
    ['token', { token: JWT }, (l) => l.token],
    ['query', { query: `token=${JWT}` }, (l) => l.query],
    ['url', { url: `/ws?token=${JWT}` }, (l) => l.url],
    [
      'headers.authorization',
      { headers: { authorization: `Bearer ${JWT}` } },
      (l) => (l.headers as Record<string, unknown>).authorization,
    ],
    [
      'req.headers.authorization',
      { req: { headers: { authorization: `Bearer ${JWT}` } } },
      (l) => ((l.req as Record<string, unknown>).headers as Record<string, unknown>).authorization,
    ],
    ['req.url', { req: { url: `/ws?token=${JWT}` } }, (l) => (l.req as Record<string, unknown>).url],
    ['req.query', { req: { query: { token: JWT } } }, (l) => (l.req as Record<string, unknown>).query],
    ['upgrade.token', { upgrade: { token: JWT } }, (l) => (l.upgrade as Record<string, unknown>).token],
    ['JWT_SECRET', { JWT_SECRET: JWT }, (l) => l.JWT_SECRET],
    [
      'config.JWT_SECRET',
      { config: { JWT_SECRET: JWT } },
      (l) => (l.config as Record<string, unknown>).JWT_SECRET,
    ],
  ])('redacts %s and never prints the token', (_path, fields, pick) => {
    const { log, only, text } = memoryLogger();
    log.info({ ...fields, user: 'alice' }, 'upgrade');
    expect(text()).not.toMatch(JWT_LOOKING);
    expect(text()).not.toContain(JWT);
    const line = only();
    expect(pick(line)).toBe('[redacted]');
    expect(line.user).toBe('alice');
    expect(line.msg).toBe('upgrade');
  });

  it('keeps sibling fields of a redacted one', () => {
    const { log, only } = memoryLogger();
    log.info({
      req: {
        method: 'GET',
        url: `/ws?token=${JWT}`,
        headers: {
          authorization: `Bearer ${JWT}`,
          origin: 'https://a.example',
        },
      },
    });
    expect(only().req).toEqual({
      method: 'GET',
      url: '[redacted]',
      headers: { authorization: '[redacted]', origin: 'https://a.example' },
    });
  });

  it('redacts in child loggers too', () => {
    const { log, text } = memoryLogger();
    log.child({ component: 'transport' }).warn({ token: JWT }, 'refused');
    expect(text()).not.toContain(JWT);
    expect(text()).toContain('transport');
  });
});
