import { gatewayEnvSchema } from './gateway';
import { ConfigError, loadConfig } from './load';

const SECRET = 's'.repeat(32);
const minimal = { JWT_SECRET: SECRET };

function load(env: Record<string, string | undefined>) {
  return loadConfig(gatewayEnvSchema, env);
}

function problemOf(env: Record<string, string | undefined>): ConfigError {
  try {
    load(env);
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
  throw new Error(`expected a ConfigError for ${JSON.stringify(env)}`);
}

describe('loadConfig(gatewayEnvSchema)', () => {
  it('gives the documented defaults for a minimal env', () => {
    const config = load(minimal);
    expect(config).toMatchObject({
      NODE_ENV: 'development',
      HOST: '0.0.0.0',
      PORT: 8080,
      LOG_LEVEL: 'info',
      REDIS_KEY_PREFIX: 'pb',
      KAFKA_BROKERS: [],
      KAFKA_CLIENT_ID: 'postbox-gateway',
      KAFKA_TOPIC: 'postbox.messages',
      JWT_SECRET: SECRET,
      JWT_ALGORITHMS: [],
      ALLOWED_ORIGINS: [],
      MAX_BODY_BYTES: 65_536,
      MAX_FRAME_BYTES: 262_144,
      RATE_SENDS_PER_SECOND: 100,
      RATE_SEND_BURST: 200,
      RATE_BYTES_PER_SECOND: 1_048_576,
      MAX_INVALID_FRAMES: 10,
      MAX_CONNECTIONS_PER_USER: 10,
      DEV_TOKENS: false,
    });
    expect(config.REDIS_URL).toBeUndefined();
    expect(config.JWT_PUBLIC_KEY).toBeUndefined();
    expect(config.PRESENCE_RENEW_MS * 2).toBeLessThanOrEqual(config.PRESENCE_LEASE_MS);
    expect(config.PRESENCE_LEASE_MS).toBeLessThanOrEqual(30_000);
  });

  it('treats empty strings as unset', () => {
    const config = load({
      ...minimal,
      PORT: '',
      DEV_TOKENS: '',
      REDIS_URL: '',
    });
    expect(config).toMatchObject({ PORT: 8080, DEV_TOKENS: false });
    expect(config.REDIS_URL).toBeUndefined();
  });

  it('returns a deeply frozen object', () => {
    const config = load({ ...minimal, KAFKA_BROKERS: 'a:9092' });
    expect(Object.isFrozen(config)).toBe(true);
    expect(Object.isFrozen(config.KAFKA_BROKERS)).toBe(true);
    expect(() => {
      (config as { PORT: number }).PORT = 1;
    }).toThrow(TypeError);
    expect(config.PORT).toBe(8080);
  });

  it('reads only its own variables', () => {
    expect(load({ ...minimal, PATH: '/bin', HOME: '/root' })).not.toHaveProperty('PATH');
  });

  it('parses set values', () => {
    const config = load({
      ...minimal,
      PORT: '0',
      REDIS_URL: 'redis://127.0.0.1:6379',
      ALLOWED_ORIGINS: 'https://app.example.com, http://localhost:5173',
      DEV_TOKENS: 'yes',
      MAX_BODY_BYTES: '1000',
      MAX_FRAME_BYTES: '4000',
    });
    expect(config).toMatchObject({
      PORT: 0,
      REDIS_URL: 'redis://127.0.0.1:6379',
      ALLOWED_ORIGINS: ['https://app.example.com', 'http://localhost:5173'],
      DEV_TOKENS: true,
      MAX_BODY_BYTES: 1000,
      MAX_FRAME_BYTES: 4000,
    });
  });

  it('splits and trims KAFKA_BROKERS, dropping empty entries', () => {
    expect(load({ ...minimal, KAFKA_BROKERS: ' k1:9092 ,k2:9092,, k3:9092 ' }).KAFKA_BROKERS).toEqual([
      'k1:9092',
      'k2:9092',
      'k3:9092',
    ]);
  });

  it('defaults GATEWAY_ID to something non-empty', () => {
    const id = load(minimal).GATEWAY_ID;
    expect(typeof id).toBe('string');
    expect(id.length).toBeGreaterThan(0);
    expect(load({ ...minimal, GATEWAY_ID: 'gw-7' }).GATEWAY_ID).toBe('gw-7');
  });

  it('accepts JWT_PUBLIC_KEY instead of JWT_SECRET', () => {
    expect(load({ JWT_PUBLIC_KEY: '-----BEGIN PUBLIC KEY-----' }).JWT_SECRET).toBeUndefined();
  });

  it.each<[string, Record<string, string | undefined>, string]>([
    ['PORT=abc', { ...minimal, PORT: 'abc' }, 'PORT'],
    ['PORT=70000', { ...minimal, PORT: '70000' }, 'PORT'],
    ['PORT=-1', { ...minimal, PORT: '-1' }, 'PORT'],
    ['PORT=80.5', { ...minimal, PORT: '80.5' }, 'PORT'],
    ['REDIS_URL=not a url', { ...minimal, REDIS_URL: 'not a url' }, 'REDIS_URL'],
    ['ALLOWED_ORIGINS=foo', { ...minimal, ALLOWED_ORIGINS: 'foo' }, 'ALLOWED_ORIGINS'],
    [
      'ALLOWED_ORIGINS with a path',
      { ...minimal, ALLOWED_ORIGINS: 'https://a.example/app' },
      'ALLOWED_ORIGINS',
    ],
    [
      'MAX_FRAME_BYTES below 4 x MAX_BODY_BYTES',
      { ...minimal, MAX_BODY_BYTES: '1000', MAX_FRAME_BYTES: '3999' },
      'MAX_FRAME_BYTES',
    ],
    [
      'MAX_BODY_BYTES raised past the default frame limit',
      { ...minimal, MAX_BODY_BYTES: '65537' },
      'MAX_FRAME_BYTES',
    ],
    ['JWT_SECRET missing', {}, 'JWT_SECRET'],
    ['JWT_SECRET empty', { JWT_SECRET: '' }, 'JWT_SECRET'],
    ['JWT_SECRET of 31 characters', { JWT_SECRET: 's'.repeat(31) }, 'JWT_SECRET'],
    ['DEV_TOKENS=maybe', { ...minimal, DEV_TOKENS: 'maybe' }, 'DEV_TOKENS'],
    [
      'PRESENCE_RENEW_MS more than half the lease',
      { ...minimal, PRESENCE_LEASE_MS: '10000', PRESENCE_RENEW_MS: '5001' },
      'PRESENCE_RENEW_MS',
    ],
    ['NODE_ENV=staging', { ...minimal, NODE_ENV: 'staging' }, 'NODE_ENV'],
    ['GATEWAY_ID with a space', { ...minimal, GATEWAY_ID: 'gw 1' }, 'GATEWAY_ID'],
  ])('refuses %s with a ConfigError naming the variable', (_name, env, variable) => {
    const error = problemOf(env);
    expect(error.name).toBe('ConfigError');
    expect(error.message).toContain(variable);
    // A list variable reports the bad entry's index: `ALLOWED_ORIGINS.0: …`.
    expect(error.problems.some((problem) => new RegExp(`^${variable}(\\.\\d+)?: `).test(problem))).toBe(true);
  });

  it('accepts PRESENCE_RENEW_MS of exactly half the lease', () => {
    expect(
      load({
        ...minimal,
        PRESENCE_LEASE_MS: '10000',
        PRESENCE_RENEW_MS: '5000',
      }).PRESENCE_RENEW_MS,
    ).toBe(5000);
  });

  it('accepts MAX_FRAME_BYTES of exactly 4 x MAX_BODY_BYTES', () => {
    expect(load({ ...minimal, MAX_BODY_BYTES: '1000', MAX_FRAME_BYTES: '4000' }).MAX_FRAME_BYTES).toBe(4000);
  });

  it('reports every problem at once', () => {
    const error = problemOf({
      JWT_SECRET: SECRET,
      PORT: 'abc',
      DEV_TOKENS: 'maybe',
    });
    expect(error.message).toContain('PORT');
    expect(error.message).toContain('DEV_TOKENS');
  });
});
