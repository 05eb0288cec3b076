import { Injectable } from '@nestjs/common';
import { hostname } from 'node:os';
import { ConsumerState, newConsumerState } from './consumer-state.js';

/** What `GET /` emits to the `events` topic. */
export interface AppEvent {
  seq: number;
  sentAt: string;
  sender: string;
}

/** What the `@EventPattern('events')` handler recorded. */
export interface ReceivedEvent extends AppEvent {
  partition: number;
  offset: string;
  receivedAt: string;
}

@Injectable()
export class AppService {
  readonly instance = `${hostname()}:${process.env.PORT ?? 3000}:${process.pid}`;
  private seq = 0;
  private readonly received: ReceivedEvent[] = [];
  /** The Kafka microservice's consumer (the @EventPattern/@MessagePattern handlers). */
  readonly serverConsumer: ConsumerState = newConsumerState();
  /** The Kafka client's consumer (replies on math.sum.reply). */
  readonly clientConsumer: ConsumerState = newConsumerState();

  nextEvent(): AppEvent {
    this.seq += 1;
    return { seq: this.seq, sentAt: new Date().toISOString(), sender: this.instance };
  }

  record(event: AppEvent, partition: number, offset: string): void {
    this.received.push({ ...event, partition, offset, receivedAt: new Date().toISOString() });
  }

  events(): ReceivedEvent[] {
    return this.received;
  }

  sum(a: number, b: number): number {
    return a + b;
  }
}
