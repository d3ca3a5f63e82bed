import type { MigrationInterface, QueryRunner } from 'typeorm';

// Forward-only. The order-router's settlement writes, made cheaper (docs/performance.md, "Third
// pass: settlement writes"); no row and no value changes.
//
// - Indexes no query reads, each one more index insert per row written on the hot path:
//   ledger_entry_id_uq (entry_id is an identity; pages read by account through
//   ledger_account_idx), order_events_order_idx (nothing reads events by order), orders_open_idx
//   (no query uses it; its predicate on `status` also made every order update non-HOT, so each
//   fill rewrote all of the orders indexes).
// - fillfactor on the hot-updated orders and balances: room on the page for HOT updates.
// - The router's outbox as one row per consumed batch (router_outbox_batches: the batch's routed
//   commands as one JSON array) instead of one row per command, inserted and deleted again a
//   batch later. Rows already in router_outbox stay and are still sent and pruned.
// - The batch writes as PL/pgSQL functions: a function's statements are planned once per server
//   connection and reused, where the same statement sent as text is parsed and planned on every
//   batch (PgBouncer in transaction mode rules out protocol-level prepared statements).
// - A whole consumed batch (orders, ledger and balances, order events, outbox, consumer offset) as
//   one call of router_commit_commands / router_commit_updates: one statement, atomic by itself,
//   instead of BEGIN, five to seven statements and COMMIT, each a round trip through PgBouncer.
export class SettlementWritePath1732406800000 implements MigrationInterface {
  name = 'SettlementWritePath1732406800000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`DROP INDEX IF EXISTS ledger_entry_id_uq`);
    await q.query(`DROP INDEX IF EXISTS order_events_order_idx`);
    await q.query(`DROP INDEX IF EXISTS orders_open_idx`);
    await q.query(`ALTER TABLE orders SET (fillfactor = 85)`);
    await q.query(`ALTER TABLE balances SET (fillfactor = 50)`);
    await q.query(`
      CREATE TABLE router_outbox_batches (
        input_partition  integer NOT NULL,
        -- offset of the batch's first routed command
        input_offset     bigint NOT NULL,
        -- JSON array of [offset, topic, key, value], in send order
        records          text NOT NULL,
        created_at       timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (input_partition, input_offset)
      )`);

    // Ledger rows plus the balance moves of exactly the rows that were new (a replayed key inserts
    // nothing and moves nothing). Existing balances move by the delta; a CHECK on an INSERT
    // candidate row would see the bare delta, so deltas never go through INSERT ... ON CONFLICT on
    // existing rows. Returns how many entries were new.
    await q.query(`
      CREATE FUNCTION post_ledger(keys text[], account_ids text[], assets text[], available_deltas bigint[],
                                  held_deltas bigint[], kinds text[], refs text[])
      RETURNS integer LANGUAGE plpgsql AS $fn$
      DECLARE
        inserted integer;
      BEGIN
        WITH ins AS (
          INSERT INTO ledger (entry_key, account_id, asset, available_delta, held_delta, kind, ref)
          SELECT * FROM unnest(keys, account_ids, assets, available_deltas, held_deltas, kinds, refs)
          ON CONFLICT (entry_key) DO NOTHING
          RETURNING account_id, asset, available_delta, held_delta
        ), d AS (
          SELECT i.account_id, i.asset, sum(i.available_delta)::bigint AS ad, sum(i.held_delta)::bigint AS hd
          FROM ins i GROUP BY i.account_id, i.asset
        ), upd AS (
          UPDATE balances b SET available = b.available + d.ad, held = b.held + d.hd, updated_at = now()
          FROM d WHERE b.account_id = d.account_id AND b.asset = d.asset
          RETURNING b.account_id, b.asset
        ), created AS (
          INSERT INTO balances AS b (account_id, asset, available, held)
          SELECT d.account_id, d.asset, d.ad, d.hd FROM d
          WHERE NOT EXISTS (SELECT 1 FROM upd WHERE upd.account_id = d.account_id AND upd.asset = d.asset)
          ON CONFLICT (account_id, asset) DO UPDATE
            SET available = b.available + EXCLUDED.available, held = b.held + EXCLUDED.held, updated_at = now()
          RETURNING 1
        )
        -- Data-modifying CTEs run to completion whether or not the outer query reads them.
        SELECT count(*)::integer FROM ins INTO inserted;
        RETURN inserted;
      END
      $fn$`);

    await q.query(`
      CREATE FUNCTION insert_order_events(symbols text[], seqs bigint[], order_ids text[], account_ids text[],
                                          types text[], payloads jsonb[], emitted_ms bigint[])
      RETURNS void LANGUAGE plpgsql AS $fn$
      BEGIN
        INSERT INTO order_events (symbol, seq, order_id, account_id, type, payload, emitted_at)
        SELECT v.symbol, v.seq, v.order_id, v.account_id, v.type, v.payload, to_timestamp(v.emitted_ms / 1000.0)
        FROM unnest(symbols, seqs, order_ids, account_ids, types, payloads, emitted_ms)
          AS v(symbol, seq, order_id, account_id, type, payload, emitted_ms)
        ON CONFLICT DO NOTHING;
      END
      $fn$`);

    // New orders; returns the ids that were not there yet (existing ids are left alone).
    await q.query(`
      CREATE FUNCTION insert_orders(order_ids text[], account_ids text[], symbols text[], client_order_ids text[], sides text[],
                                    order_types text[], tifs text[], post_onlys boolean[], prices bigint[], stop_prices bigint[],
                                    display_qtys bigint[], qtys bigint[], statuses text[], reasons text[], received_ms bigint[],
                                    protection_prices bigint[], quote_budgets bigint[], hold_assets text[], hold_remainings bigint[],
                                    maker_fee_bpss integer[], taker_fee_bpss integer[])
      RETURNS SETOF text LANGUAGE plpgsql AS $fn$
      BEGIN
        RETURN QUERY
        INSERT INTO orders AS o (order_id, account_id, symbol, client_order_id, side, order_type, tif, post_only, price, stop_price,
                                 display_qty, qty, status, reason, received_at, protection_price, quote_budget, hold_asset,
                                 hold_remaining, maker_fee_bps, taker_fee_bps)
        SELECT v.order_id, v.account_id, v.symbol, v.client_order_id, v.side, v.order_type, v.tif, v.post_only, v.price, v.stop_price,
               v.display_qty, v.qty, v.status, v.reason, to_timestamp(v.received_ms / 1000.0), v.protection_price, v.quote_budget,
               v.hold_asset, v.hold_remaining, v.maker_fee_bps, v.taker_fee_bps
        FROM unnest(order_ids, account_ids, symbols, client_order_ids, sides, order_types, tifs, post_onlys, prices, stop_prices,
                    display_qtys, qtys, statuses, reasons, received_ms, protection_prices, quote_budgets, hold_assets, hold_remainings,
                    maker_fee_bpss, taker_fee_bpss)
          AS v(order_id, account_id, symbol, client_order_id, side, order_type, tif, post_only, price, stop_price, display_qty, qty,
               status, reason, received_ms, protection_price, quote_budget, hold_asset, hold_remaining, maker_fee_bps, taker_fee_bps)
        ON CONFLICT DO NOTHING
        RETURNING o.order_id;
      END
      $fn$`);

    // A row only moves forward (last_seq guard), so a replay is a no-op; "<=": a hold change from
    // an amend arrives without a new engine event.
    await q.query(`
      CREATE FUNCTION update_order_states(order_ids text[], prices bigint[], qtys bigint[], filled_qtys bigint[],
                                          filled_notionals bigint[], statuses text[], reasons text[], last_seqs bigint[],
                                          hold_remainings bigint[])
      RETURNS void LANGUAGE plpgsql AS $fn$
      BEGIN
        UPDATE orders o SET price = v.price, qty = v.qty, filled_qty = v.filled_qty, filled_notional = v.filled_notional,
               status = v.status, reason = v.reason, last_seq = v.last_seq, hold_remaining = v.hold_remaining, updated_at = now()
        FROM unnest(order_ids, prices, qtys, filled_qtys, filled_notionals, statuses, reasons, last_seqs, hold_remainings)
          AS v(order_id, price, qty, filled_qty, filled_notional, status, reason, last_seq, hold_remaining)
        WHERE o.order_id = v.order_id AND o.last_seq <= v.last_seq;
      END
      $fn$`);
    await this.commitFunctions(q);
  }

  private async commitFunctions(q: QueryRunner): Promise<void> {
    const orders = `o_ids text[], o_accounts text[], o_symbols text[], o_coids text[], o_sides text[], o_types text[],
      o_tifs text[], o_post_onlys boolean[], o_prices bigint[], o_stop_prices bigint[], o_display_qtys bigint[], o_qtys bigint[],
      o_statuses text[], o_reasons text[], o_received_ms bigint[], o_protection_prices bigint[], o_quote_budgets bigint[],
      o_hold_assets text[], o_hold_remainings bigint[], o_maker_bps integer[], o_taker_bps integer[]`;
    const states = `s_ids text[], s_prices bigint[], s_qtys bigint[], s_filled bigint[], s_notionals bigint[], s_statuses text[],
      s_reasons text[], s_last_seqs bigint[], s_holds bigint[]`;
    const ledger = `l_keys text[], l_accounts text[], l_assets text[], l_available bigint[], l_held bigint[], l_kinds text[], l_refs text[]`;
    const offset = `c_group text, c_topic text, c_partition integer, c_next_offset bigint`;
    const saveOffset = `
        INSERT INTO consumer_offsets (group_id, topic, partition, next_offset) VALUES (c_group, c_topic, c_partition, c_next_offset)
        ON CONFLICT (group_id, topic, partition) DO UPDATE SET next_offset = EXCLUDED.next_offset, updated_at = now();`;
    const postLedger = `
        IF cardinality(l_keys) > 0 THEN
          PERFORM post_ledger(l_keys, l_accounts, l_assets, l_available, l_held, l_kinds, l_refs);
        END IF;`;
    const updateStates = `
        IF cardinality(s_ids) > 0 THEN
          PERFORM update_order_states(s_ids, s_prices, s_qtys, s_filled, s_notionals, s_statuses, s_reasons, s_last_seqs, s_holds);
        END IF;`;
    // A commands batch: new orders, hold changes of amends, holds, the outbox (older batches'
    // rows go: they were sent before this batch started) and the offset.
    await q.query(`
      CREATE FUNCTION router_commit_commands(${orders}, ${states}, ${ledger},
                                             x_partition integer, x_prune_before bigint, x_offset bigint, x_records text, ${offset})
      RETURNS void LANGUAGE plpgsql AS $fn$
      BEGIN
        IF cardinality(o_ids) > 0 THEN
          PERFORM insert_orders(o_ids, o_accounts, o_symbols, o_coids, o_sides, o_types, o_tifs, o_post_onlys, o_prices, o_stop_prices,
                                o_display_qtys, o_qtys, o_statuses, o_reasons, o_received_ms, o_protection_prices, o_quote_budgets,
                                o_hold_assets, o_hold_remainings, o_maker_bps, o_taker_bps);
        END IF;${updateStates}${postLedger}
        DELETE FROM router_outbox WHERE input_partition = x_partition AND input_offset < x_prune_before;
        DELETE FROM router_outbox_batches WHERE input_partition = x_partition AND input_offset < x_prune_before;
        IF x_records IS NOT NULL THEN
          INSERT INTO router_outbox_batches (input_partition, input_offset, records) VALUES (x_partition, x_offset, x_records)
          ON CONFLICT DO NOTHING;
        END IF;${saveOffset}
      END
      $fn$`);
    // An updates batch: order events, order states, settlement and the offset.
    await q.query(`
      CREATE FUNCTION router_commit_updates(e_symbols text[], e_seqs bigint[], e_order_ids text[], e_accounts text[], e_types text[],
                                            e_payloads jsonb[], e_emitted_ms bigint[], ${states}, ${ledger}, ${offset})
      RETURNS void LANGUAGE plpgsql AS $fn$
      BEGIN
        IF cardinality(e_symbols) > 0 THEN
          PERFORM insert_order_events(e_symbols, e_seqs, e_order_ids, e_accounts, e_types, e_payloads, e_emitted_ms);
        END IF;${updateStates}${postLedger}${saveOffset}
      END
      $fn$`);
  }

  async down(): Promise<void> {
    throw new Error('migrations are forward-only');
  }
}
