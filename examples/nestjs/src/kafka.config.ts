import { KafkaOptions, Transport } from '@nestjs/microservices';
import { logLevel } from 'kafkajs';

/**
 * The Kafka transport options shared by the Kafka microservice (ServerKafka,
 * see main.ts) and the Kafka client (ClientKafka, see app.module.ts).
 *
 * Only the broker list is needed: `KAFKA_BROKERS` (comma-separated, default
 * `localhost:9092`). Everything else is the NestJS/kafkajs default unless set
 * through the environment (the end-to-end test shortens the timeouts):
 *   KAFKA_CLIENT_ID, KAFKA_GROUP_ID        ids; NestJS appends -server / -client
 *   KAFKA_SESSION_TIMEOUT_MS                kafkajs default 30000
 *   KAFKA_REBALANCE_TIMEOUT_MS              kafkajs default 60000
 *   KAFKA_HEARTBEAT_INTERVAL_MS             kafkajs default 3000
 *   KAFKA_LOG_LEVEL                         error | warn | info (default) | debug
 *   KAFKA_IDEMPOTENT                        1: an idempotent producer (kafkajs'
 *                                          `idempotent`, one request in flight)
 */
export const KAFKA_CLIENT = 'KAFKA_CLIENT';

export const brokers = (process.env.KAFKA_BROKERS ?? 'localhost:9092')
  .split(',')
  .map((b) => b.trim())
  .filter((b) => b.length > 0);

const clientId = process.env.KAFKA_CLIENT_ID ?? 'runnel-nestjs';
export const groupId = process.env.KAFKA_GROUP_ID ?? 'runnel-nestjs';

function intFromEnv(name: string): number | undefined {
  const v = process.env[name];
  if (v === undefined || v === '') return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n <= 0) {
    throw new Error(`${name} must be a positive integer, got '${v}'`);
  }
  return n;
}

function kafkaLogLevel(): logLevel | undefined {
  const v = process.env.KAFKA_LOG_LEVEL?.toLowerCase();
  switch (v) {
    case undefined:
    case '':
      return undefined;
    case 'nothing':
      return logLevel.NOTHING;
    case 'error':
      return logLevel.ERROR;
    case 'warn':
      return logLevel.WARN;
    case 'info':
      return logLevel.INFO;
    case 'debug':
      return logLevel.DEBUG;
    default:
      throw new Error(`KAFKA_LOG_LEVEL must be error, warn, info or debug, got '${v}'`);
  }
}

function dropUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(
    Object.entries(o).filter(([, v]) => v !== undefined),
  ) as Partial<T>;
}

// kafkajs' idempotent producer: acks=all, retried sends written once, and one
// request in flight per broker, as kafkajs requires to keep order.
function producerOptions(): { idempotent: boolean; maxInFlightRequests: number } | undefined {
  const v = process.env.KAFKA_IDEMPOTENT;
  if (v === undefined || v === '' || v === '0') return undefined;
  if (v !== '1') throw new Error(`KAFKA_IDEMPOTENT must be 0 or 1, got '${v}'`);
  return { idempotent: true, maxInFlightRequests: 1 };
}

export function kafkaOptions(): KafkaOptions['options'] {
  return {
    ...dropUndefined({ producer: producerOptions() }),
    client: {
      clientId,
      brokers,
      ...dropUndefined({ logLevel: kafkaLogLevel() }),
    },
    consumer: {
      groupId,
      ...dropUndefined({
        sessionTimeout: intFromEnv('KAFKA_SESSION_TIMEOUT_MS'),
        rebalanceTimeout: intFromEnv('KAFKA_REBALANCE_TIMEOUT_MS'),
        heartbeatInterval: intFromEnv('KAFKA_HEARTBEAT_INTERVAL_MS'),
      }),
    },
  };
}

export function kafkaTransport(): KafkaOptions {
  return { transport: Transport.KAFKA, options: kafkaOptions() };
}
