/** Routes kafkajs' own log lines into the gateway's pino logger, so one stream holds everything. */
import { logLevel, type logCreator } from 'kafkajs';
import type { Logger } from '@postbox/logger';

export function pinoLogCreator(logger: Logger): logCreator {
  return () =>
    ({ namespace, level, log }) => {
      // kafkajs adds its own timestamp and logger name; pino has both already.
      const { message, timestamp, logger: origin, ...fields } = log;
      void timestamp;
      void origin;
      const entry = { ...fields, kafka: namespace };
      switch (level) {
        case logLevel.ERROR:
        case logLevel.NOTHING:
          logger.error(entry, message);
          break;
        case logLevel.WARN:
          logger.warn(entry, message);
          break;
        case logLevel.INFO:
          logger.info(entry, message);
          break;
        default:
          logger.debug(entry, message);
      }
    };
}
