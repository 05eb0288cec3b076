import { Injectable } from '@nestjs/common';
import { hostname } from 'node:os';

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

/** What this instance's Kafka consumer (ServerKafka) last reported. */
export interface ConsumerState {
  status: string;
  groupId?: string;
  memberId?: string;
  isLeader?: boolean;
  assignments: Record<string, number[]>;
  joins: number;
  lastJoinAt?: string;
  crashes: { at: string; error: string; restart: boolean }[];
}

@Injectable()
export class AppService {
  readonly instance = `${hostname()}:${process.env.PORT ?? 3000}:${process.pid}`;
  private seq = 0;
  private readonly received: ReceivedEvent[] = [];
  readonly consumer: ConsumerState = {
    status: 'starting',
    assignments: {},
    joins: 0,
    crashes: [],
  };

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
