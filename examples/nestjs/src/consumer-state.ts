import type { Observable } from 'rxjs';
import type { Consumer, ConsumerCrashEvent, ConsumerGroupJoinEvent } from 'kafkajs';

/** What one kafkajs consumer of this app last reported (shown at GET /health). */
export interface ConsumerState {
  status: string;
  /** Between kafkajs' REBALANCING event and the next GROUP_JOIN. */
  rebalancing: boolean;
  groupId?: string;
  memberId?: string;
  isLeader?: boolean;
  assignments: Record<string, number[]>;
  joins: number;
  lastJoinAt?: string;
  crashes: { at: string; error: string; restart: boolean }[];
}

export function newConsumerState(): ConsumerState {
  return { status: 'starting', rebalancing: false, assignments: {}, joins: 0, crashes: [] };
}

/**
 * Follows a NestJS Kafka transport's consumer: `status` is the transport's
 * status stream (ServerKafka's or ClientKafka's), `consumer` returns its
 * kafkajs consumer once there is one. The consumer exists when the transport
 * reports "connected", before it joins its group, so the GROUP_JOIN events
 * (which carry the assigned partitions) are all seen.
 */
export function watchConsumer(
  status: Observable<string>,
  consumer: () => Consumer | undefined,
  state: ConsumerState,
): void {
  let watched: Consumer | undefined;
  status.subscribe((s) => {
    state.status = String(s);
    let c: Consumer | undefined;
    try {
      c = consumer();
    } catch {
      return; // not created yet
    }
    if (!c || c === watched) return;
    watched = c;
    c.on(c.events.REBALANCING, () => {
      state.rebalancing = true;
    });
    c.on(c.events.GROUP_JOIN, (e: ConsumerGroupJoinEvent) => {
      Object.assign(state, {
        rebalancing: false,
        groupId: e.payload.groupId,
        memberId: e.payload.memberId,
        isLeader: e.payload.isLeader,
        assignments: e.payload.memberAssignment,
        joins: state.joins + 1,
        lastJoinAt: new Date().toISOString(),
      });
    });
    c.on(c.events.CRASH, (e: ConsumerCrashEvent) => {
      state.crashes.push({
        at: new Date().toISOString(),
        error: `${e.payload.error.name}: ${e.payload.error.message}`,
        restart: e.payload.restart,
      });
    });
  });
}

/** Joined at least once and neither crashed for good nor stopped. */
export function consumerReady(state: ConsumerState): boolean {
  const last = state.crashes[state.crashes.length - 1];
  return state.joins > 0 && state.status !== 'stopped' && !(last && !last.restart && state.status === 'crashed');
}
