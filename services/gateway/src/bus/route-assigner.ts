import { AssignerProtocol, type PartitionAssigner } from 'kafkajs';

/**
 * The assigner of a group that has one member, this gateway: it gets its route's partition and
 * nothing else. (A group per gateway keeps kafkajs' join, heartbeats and start-offset pinning.)
 */
export function routeAssigner(route: () => number): PartitionAssigner {
  return () => ({
    name: 'PostboxRouteAssigner',
    version: 0,
    async assign({ members, topics }) {
      return members.map(({ memberId }) => ({
        memberId,
        memberAssignment: AssignerProtocol.MemberAssignment.encode({
          version: 0,
          assignment: Object.fromEntries(topics.map((topic) => [topic, [route()]])),
          userData: Buffer.alloc(0),
        }),
      }));
    },
    protocol({ topics }) {
      return {
        name: 'PostboxRouteAssigner',
        metadata: AssignerProtocol.MemberMetadata.encode({ version: 0, topics, userData: Buffer.alloc(0) }),
      };
    },
  });
}
