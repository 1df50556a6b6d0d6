import type { TaskStatus } from "../../contract/tasks.js";
import type { TaskQueue } from "../tasks/queue.js";

/** A member server process as system.get_state shows it: its own record, its view parsed, whether it leads. */
type ServerRecord = Record<string, unknown> & { id: string; view: unknown; leader: boolean };

/** What system.get_state and system.metrics both report about the whole cluster, read together. */
interface ClusterSnapshot {
  tasksByStatus: Record<TaskStatus, number>;
  servers: ServerRecord[];
}

/** Where the member records and the leader come from (membership.ts and leadership.ts, via the server). */
interface ClusterMembers {
  servers(): Promise<Record<string, string>[]>;
  leadership(): { leaderId: string | null };
}

export async function clusterSnapshot(tasks: TaskQueue, cluster: ClusterMembers): Promise<ClusterSnapshot> {
  const [tasksByStatus, records] = await Promise.all([tasks.counts(), cluster.servers()]);
  const { leaderId } = cluster.leadership();
  const servers = records.map((s) => ({
    ...s,
    id: s.id as string,
    view: s.view ? (JSON.parse(s.view) as unknown) : [],
    leader: s.id === leaderId,
  }));
  return { tasksByStatus, servers };
}
