/**
 * The domain event as every reader sees it: served over SSE and WebSocket, followed by the
 * client, delivered to subscriptions and projected into the history. How a reader asks for
 * the live feed (EventFeed) is declared here too, so the transports that serve it and the
 * domain's event tail that feeds it name one shape.
 */

/** One domain event as stored on the capped event stream and served to subscribers. */
export interface DomainEvent {
  /** The stream entry id (`<ms>-<seq>`): ordered, unique, usable to resume. */
  id: string;
  event: string;
  payload: Record<string, unknown>;
  /** Server process that emitted it. */
  source: string;
  /** Epoch milliseconds (from the stream id). */
  ts: number;
}

export type EventFilter = (event: DomainEvent) => boolean;

export interface EventSubscription {
  filter: EventFilter;
  deliver: (event: DomainEvent) => void;
  /** Replay the events after this stream id first. */
  afterId?: string;
  /**
   * Asked during the replay after each delivered event: true (or a promise of true once the
   * client's buffer has drained) to go on, false when the client has gone.
   */
  ready?: () => boolean | Promise<boolean>;
}

/** The live events of the whole cluster, as the transports receive them. */
export interface EventFeed {
  /**
   * Resolves once this process follows the events: every event appended from then on reaches
   * the subscribers added from then on.
   */
  start(): Promise<void>;
  /**
   * Starts delivering events; resolves once the replay is done with the function that stops
   * it. The subscriber is added synchronously, before the first await: subscribed while the
   * feed runs (`start` resolved), it misses no event appended from the call on.
   */
  subscribe(subscription: EventSubscription): Promise<() => void>;
}
