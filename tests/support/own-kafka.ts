/**
 * A private single-node Kafka (KRaft) for tests that stop the broker: the shared one on 19092
 * must never be stopped. Same jars and config as tools/kafka.sh, on free ports, its own data dir
 * and a small heap.
 *
 *   const kafka = await startOwnKafka();   // kafka.brokers
 *   await kafka.stop();                    // SIGTERM (SIGKILL after 20 s)
 *   await kafka.restart();                 // same ports, same data dir
 *   await kafka.destroy();
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, openSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Kafka, logLevel } from 'kafkajs';
import { freePort } from './ports';

const ROOT = resolve(__dirname, '..', '..');
const CLASSPATH = join(ROOT, '.cache', 'kafka', 'libs', '*');
const HEAP = ['-Xms128m', '-Xmx256m'];
const running = new Set<ChildProcess>();
process.once('exit', () => running.forEach((child) => child.kill('SIGKILL')));

export interface OwnKafka {
  brokers: string;
  stop(): Promise<void>;
  restart(): Promise<void>;
  destroy(): Promise<void>;
}

function writeConfig(dir: string, port: number, controllerPort: number): string {
  const file = join(dir, 'server.properties');
  writeFileSync(
    file,
    [
      'process.roles=broker,controller',
      'node.id=1',
      `controller.quorum.voters=1@127.0.0.1:${controllerPort}`,
      `listeners=PLAINTEXT://127.0.0.1:${port},CONTROLLER://127.0.0.1:${controllerPort}`,
      `advertised.listeners=PLAINTEXT://127.0.0.1:${port}`,
      'controller.listener.names=CONTROLLER',
      'inter.broker.listener.name=PLAINTEXT',
      'listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT',
      `log.dirs=${join(dir, 'data')}`,
      'num.partitions=1',
      'auto.create.topics.enable=false',
      'offsets.topic.replication.factor=1',
      'offsets.topic.num.partitions=3',
      'transaction.state.log.replication.factor=1',
      'transaction.state.log.min.isr=1',
      'group.initial.rebalance.delay.ms=0',
      'num.network.threads=1',
      'num.io.threads=1',
      '',
    ].join('\n'),
  );
  writeFileSync(
    join(dir, 'log4j.properties'),
    'log4j.rootLogger=WARN, stdout\nlog4j.appender.stdout=org.apache.log4j.ConsoleAppender\nlog4j.appender.stdout.layout=org.apache.log4j.PatternLayout\n',
  );
  return file;
}

/** Until a metadata request succeeds: the port opens before the controller has elected itself. */
async function waitReady(brokers: string, child: ChildProcess, timeoutMs: number): Promise<void> {
  const kafka = new Kafka({
    brokers: [brokers],
    logLevel: logLevel.NOTHING,
    retry: { retries: 0 },
    connectionTimeout: 2000,
  });
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`own kafka on ${brokers} exited during startup`);
    const admin = kafka.admin();
    try {
      await admin.connect();
      await admin.listTopics();
      await admin.disconnect();
      return;
    } catch (error) {
      await admin.disconnect().catch(() => undefined);
      if (Date.now() > deadline) throw new Error(`own kafka on ${brokers} not ready: ${String(error)}`);
      await new Promise((wake) => setTimeout(wake, 500));
    }
  }
}

export async function startOwnKafka(timeoutMs = 90_000): Promise<OwnKafka> {
  const [port, controllerPort] = [await freePort(), await freePort()];
  const dir = mkdtempSync(join(tmpdir(), 'postbox-kafka-'));
  mkdirSync(join(dir, 'data'));
  const config = writeConfig(dir, port, controllerPort);
  const log4j = `-Dlog4j.configuration=file:${join(dir, 'log4j.properties')}`;
  const clusterId = randomBytes(16).toString('base64url');
  const format = spawnSync(
    'java',
    [...HEAP, log4j, '-cp', CLASSPATH, 'kafka.tools.StorageTool', 'format', '-t', clusterId, '-c', config],
    { encoding: 'utf8' },
  );
  if (format.status !== 0) throw new Error(`kafka storage format failed: ${format.stderr}`);
  const brokers = `127.0.0.1:${port}`;
  let child: ChildProcess | undefined;

  const launch = async (): Promise<void> => {
    const out = openSync(join(dir, 'kafka.log'), 'a');
    const started = spawn(
      'java',
      [...HEAP, '-XX:+UseSerialGC', log4j, '-cp', CLASSPATH, 'kafka.Kafka', config],
      {
        stdio: ['ignore', out, out],
      },
    );
    child = started;
    running.add(started);
    started.once('exit', () => running.delete(started));
    await waitReady(brokers, started, timeoutMs);
  };

  const stop = async (): Promise<void> => {
    const current = child;
    if (current === undefined || current.exitCode !== null || current.signalCode !== null) return;
    const exited = new Promise((done) => current.once('exit', done));
    current.kill('SIGTERM');
    const timer = setTimeout(() => current.kill('SIGKILL'), 20_000);
    await exited;
    clearTimeout(timer);
  };

  await launch();
  return {
    brokers,
    stop,
    restart: launch,
    destroy: async () => {
      await stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
