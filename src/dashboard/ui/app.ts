import type { Activity } from "../model/activity.js";
import type { DashboardStore } from "../model/store.js";
import type { Api } from "./api.js";

/** What every view reads: the live store, the API and the figures the poller keeps. */
export interface App {
  store: DashboardStore;
  api: Api;
  /** Redraws the visible view at the next animation frame (many events, one redraw). */
  schedule(): void;
  /** Shows the outcome of an action in the status line. */
  notify(message: string, isError?: boolean): void;
  /** Polls now (a view changed what it asks for). */
  refresh(): void;
  health: Health | undefined;
  stats: TaskStats | undefined;
  /** `system.activity`: headline figures over the last minutes and the last hour for the charts. */
  activity: Activity | undefined;
  /** The method whose latency the charts follow; all methods when undefined. */
  latencyMethod: string | undefined;
  /** Bumped by each poll: the views that show polled figures redraw on it. */
  pollVersion: number;
}

export interface Health {
  status: string;
  cluster?: { leaderId?: string | null; partitioned?: boolean; members?: number; healthyMembers?: number };
}

export interface TaskStats {
  queueDepth: number;
  deadLetters: number;
  activeLeases: number;
  waitTime?: { p50Ms?: number | null; p99Ms?: number | null };
}

export interface View {
  id: string;
  title: string;
  root: HTMLElement;
  /** Redraws from the current state; called only while the view is visible. */
  update(): void;
}
