import { AssignerProtocol, type PartitionAssigner } from 'kafkajs';

/**
 * Gives partition p of every subscribed topic to the same member, so a consumer of two
 * co-partitioned topics (same key, same partition count) owns both halves of each key's stream.
 */
export const CoPartitionAssigner: PartitionAssigner = ({ cluster }) => ({
  name: 'CoPartitionAssigner',
  version: 1,
  async assign({ members, topics }) {
    const memberIds = members.map((m) => m.memberId).sort();
    const assignment: Record<string, Record<string, number[]>> = Object.fromEntries(
      memberIds.map((id) => [id, {}]),
    );
    for (const topic of topics) {
      const partitions = cluster
        .findTopicPartitionMetadata(topic)
        .map((m) => m.partitionId)
        .sort((a, b) => a - b);
      for (const p of partitions) {
        const owner = memberIds[p % memberIds.length];
        (assignment[owner][topic] ??= []).push(p);
      }
    }
    return memberIds.map((memberId) => ({
      memberId,
      memberAssignment: AssignerProtocol.MemberAssignment.encode({
        version: 1,
        assignment: assignment[memberId],
        userData: Buffer.alloc(0),
      }),
    }));
  },
  protocol({ topics }) {
    return {
      name: 'CoPartitionAssigner',
      metadata: AssignerProtocol.MemberMetadata.encode({ version: 1, topics, userData: Buffer.alloc(0) }),
    };
  },
});
