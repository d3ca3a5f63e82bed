import type { MigrationInterface, QueryRunner } from 'typeorm';

// Forward-only. The order-router's group commit (docs/performance.md, "Fifth pass"): the batches
// of several partitions and both input topics that are ready at the same time are written in one
// call of router_commit_group, one transaction and one WAL flush, instead of one call each. No
// table, row or value changes: the function does what router_commit_commands and
// router_commit_updates do (both stay, for a group of one batch), for many batches at once:
//
// - new orders, order events, order states (guarded by last_seq), the ledger with its balance
//   moves: the same functions, over the batches' rows concatenated;
// - the outbox per commands batch: rows of earlier batches of its partition pruned, its routed
//   commands stored;
// - one consumer offset per batch (a group never holds two batches of one topic-partition: the
//   router runs a partition's batches one after the other).
export class RouterGroupCommit1732406900000 implements MigrationInterface {
  name = 'RouterGroupCommit1732406900000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE FUNCTION router_commit_group(
        o_ids text[], o_accounts text[], o_symbols text[], o_coids text[], o_sides text[], o_types text[],
        o_tifs text[], o_post_onlys boolean[], o_prices bigint[], o_stop_prices bigint[], o_display_qtys bigint[], o_qtys bigint[],
        o_statuses text[], o_reasons text[], o_received_ms bigint[], o_protection_prices bigint[], o_quote_budgets bigint[],
        o_hold_assets text[], o_hold_remainings bigint[], o_maker_bps integer[], o_taker_bps integer[],
        e_symbols text[], e_seqs bigint[], e_order_ids text[], e_accounts text[], e_types text[], e_payloads jsonb[], e_emitted_ms bigint[],
        s_ids text[], s_prices bigint[], s_qtys bigint[], s_filled bigint[], s_notionals bigint[], s_statuses text[],
        s_reasons text[], s_last_seqs bigint[], s_holds bigint[],
        l_keys text[], l_accounts text[], l_assets text[], l_available bigint[], l_held bigint[], l_kinds text[], l_refs text[],
        x_partitions integer[], x_prune_before bigint[], x_offsets bigint[], x_records text[],
        c_group text, c_topics text[], c_partitions integer[], c_next_offsets bigint[])
      RETURNS void LANGUAGE plpgsql AS $fn$
      BEGIN
        IF cardinality(o_ids) > 0 THEN
          PERFORM insert_orders(o_ids, o_accounts, o_symbols, o_coids, o_sides, o_types, o_tifs, o_post_onlys, o_prices, o_stop_prices,
                                o_display_qtys, o_qtys, o_statuses, o_reasons, o_received_ms, o_protection_prices, o_quote_budgets,
                                o_hold_assets, o_hold_remainings, o_maker_bps, o_taker_bps);
        END IF;
        IF cardinality(e_symbols) > 0 THEN
          PERFORM insert_order_events(e_symbols, e_seqs, e_order_ids, e_accounts, e_types, e_payloads, e_emitted_ms);
        END IF;
        IF cardinality(s_ids) > 0 THEN
          PERFORM update_order_states(s_ids, s_prices, s_qtys, s_filled, s_notionals, s_statuses, s_reasons, s_last_seqs, s_holds);
        END IF;
        IF cardinality(l_keys) > 0 THEN
          PERFORM post_ledger(l_keys, l_accounts, l_assets, l_available, l_held, l_kinds, l_refs);
        END IF;
        IF cardinality(x_partitions) > 0 THEN
          DELETE FROM router_outbox o USING unnest(x_partitions, x_prune_before) AS v(p, b)
            WHERE o.input_partition = v.p AND o.input_offset < v.b;
          DELETE FROM router_outbox_batches o USING unnest(x_partitions, x_prune_before) AS v(p, b)
            WHERE o.input_partition = v.p AND o.input_offset < v.b;
          INSERT INTO router_outbox_batches (input_partition, input_offset, records)
            SELECT v.p, v.o, v.r FROM unnest(x_partitions, x_offsets, x_records) AS v(p, o, r) WHERE v.r IS NOT NULL
            ON CONFLICT DO NOTHING;
        END IF;
        INSERT INTO consumer_offsets (group_id, topic, partition, next_offset)
          SELECT c_group, v.t, v.p, v.n FROM unnest(c_topics, c_partitions, c_next_offsets) AS v(t, p, n)
          ON CONFLICT (group_id, topic, partition) DO UPDATE SET next_offset = EXCLUDED.next_offset, updated_at = now();
      END
      $fn$`);
  }

  async down(): Promise<void> {
    throw new Error('migrations are forward-only');
  }
}
