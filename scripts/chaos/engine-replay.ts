import type { Kafka } from 'kafkajs';
import type { DataSource } from 'typeorm';
import { sequencedCommandSchema, toMarketSpec, TOPICS, type SequencedCommand } from '@trading/contracts';
import { MarketsRepository } from '@trading/db';
import { MatchingEngine, type EngineEvent } from '@trading/matching-engine';
import { PartitionBook, symbolConfig } from '../../services/matching-worker/src/partition-book';
import { readTopicRange } from '../../loadtest/src/kafka-range';

// What matching was asked to do, replayed through the engine alone: the trades the platform
// must have stored. The matching workers' own dedupe (PartitionBook.firstSeen: a router re-send
// after a crash carries an already-applied source offset) is applied the same way, per input
// partition, over every command of the partition; only the given symbols' engines are built.
// Meant for fresh symbols (their books start empty at `from`).

/** Offsets per partition (high watermarks, as strings). */
export type PartitionOffsets = Record<number, string>;

export async function topicEnds(kafka: Kafka, topic: string): Promise<PartitionOffsets> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const out: PartitionOffsets = {};
    for (const p of await admin.fetchTopicOffsets(topic)) out[p.partition] = p.high;
    return out;
  } finally {
    await admin.disconnect();
  }
}

/** One trade as a comparable key: seq:price:qty:maker:taker. */
export type TradeKey = string;

/** One sequenced command as the matching worker applies it, with where it was read. */
export interface AppliedCommand {
  partition: number;
  offset: number;
  value: SequencedCommand;
}

/**
 * The commands of `symbols` in orders.sequenced.v1 between `from` and `to` (read_committed), in
 * partition and offset order, as the workers apply them: a router re-send (its source offset at
 * or below one already applied on that input partition, `PartitionBook.firstSeen`) is dropped,
 * counted in `duplicates`. The rule runs over every command of the partition, as in the worker.
 */
export async function readAppliedCommands(
  kafka: Kafka,
  symbols: ReadonlySet<string>,
  from: PartitionOffsets,
  to: PartitionOffsets,
  idleMs = 5000,
): Promise<{ commands: AppliedCommand[]; duplicates: number }> {
  const messages = await readTopicRange(kafka, TOPICS.ordersSequenced.name, from, to, idleMs);
  const commands: AppliedCommand[] = [];
  let duplicates = 0;
  for (const [partition, list] of messages) {
    const book = new PartitionBook(partition);
    for (const m of list) {
      const value = sequencedCommandSchema.parse(JSON.parse(m.value.toString()));
      const first = book.firstSeen(value.source);
      if (!symbols.has(value.symbol)) continue;
      if (first) commands.push({ partition, offset: Number(m.offset), value });
      else duplicates++;
    }
  }
  return { commands, duplicates };
}

/** Replays orders.sequenced.v1 between `from` and `to` (read_committed) through fresh engines. */
export async function replayTrades(
  kafka: Kafka,
  db: DataSource,
  symbols: string[],
  from: PartitionOffsets,
  to: PartitionOffsets,
  idleMs = 5000,
): Promise<{ trades: Map<string, TradeKey[]>; commands: number; duplicates: number }> {
  const specs = new Map(
    (await new MarketsRepository(db).findRows())
      .filter((r) => symbols.includes(r.symbol))
      .map((r) => [r.symbol, toMarketSpec(r)]),
  );
  for (const s of symbols) if (!specs.has(s)) throw new Error(`market ${s} not in the database`);
  const applied = await readAppliedCommands(kafka, new Set(symbols), from, to, idleMs);

  const trades = new Map<string, TradeKey[]>(symbols.map((s) => [s, []]));
  const engines = new Map<string, MatchingEngine>();
  const out: EngineEvent[] = [];
  for (const { offset, value: cmd } of applied.commands) {
    let engine = engines.get(cmd.symbol);
    if (!engine) engines.set(cmd.symbol, (engine = new MatchingEngine(symbolConfig(specs.get(cmd.symbol)!))));
    out.length = 0;
    engine.process({ ...cmd.command, inputOffset: offset }, out);
    for (const e of out)
      if (e.type === 'trade')
        trades.get(cmd.symbol)!.push(`${e.seq}:${e.price}:${e.qty}:${e.makerOrderId}:${e.takerOrderId}`);
  }
  return { trades, commands: applied.commands.length, duplicates: applied.duplicates };
}

/** The trades the database holds for a symbol, as replay keys, in seq order. */
export async function storedTrades(db: DataSource, symbol: string): Promise<TradeKey[]> {
  const rows = (await db.query(
    `SELECT seq, price, qty, maker_order_id, taker_order_id FROM trades WHERE symbol = $1 ORDER BY seq`,
    [symbol],
  )) as { seq: string; price: string; qty: string; maker_order_id: string; taker_order_id: string }[];
  return rows.map((t) => `${t.seq}:${t.price}:${t.qty}:${t.maker_order_id}:${t.taker_order_id}`);
}
