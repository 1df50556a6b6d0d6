import type { Logger } from "../../core/logger.js";
import type { RateLimiter } from "../../resilience/rate-limiter.js";
import { SubscriptionDefinitionError } from "../subscriptions/define.js";
import type { SubscriptionService } from "../subscriptions/service.js";
import { readWorkflows, type WorkflowProblem } from "./loader.js";
import { workflowSubscription } from "./workflow.js";

export interface WorkflowReport {
  dir: string;
  /** Names of the workflows now running. */
  loaded: string[];
  problems: WorkflowProblem[];
}

/** The workflow directory as one source of subscriptions, read again on `reload` (SIGHUP). */
export class WorkflowSource {
  constructor(
    private readonly dir: string,
    private readonly subscriptions: SubscriptionService,
    private readonly limiter: RateLimiter,
    private readonly isMethod: (name: string) => boolean,
    private readonly log: Logger,
  ) {}

  async reload(): Promise<WorkflowReport> {
    const { workflows, problems } = readWorkflows(this.dir, this.isMethod);
    for (const p of problems) this.log.error({ file: p.file }, `workflow file skipped: ${p.message}`);
    try {
      await this.subscriptions.install(
        "workflows",
        workflows.map(({ workflow }) => workflowSubscription(workflow, this.limiter)),
      );
    } catch (err) {
      if (!(err instanceof SubscriptionDefinitionError)) throw err;
      this.log.error({ dir: this.dir }, `workflows not loaded: ${err.message}`);
      return { dir: this.dir, loaded: [], problems: [...problems, { file: this.dir, message: err.message }] };
    }
    const loaded = workflows.map(({ workflow }) => workflow.name);
    if (loaded.length > 0 || problems.length > 0)
      this.log.info({ dir: this.dir, loaded }, "workflows loaded");
    return { dir: this.dir, loaded, problems };
  }
}
