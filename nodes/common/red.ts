/**
 * The part of Node-RED's runtime API these nodes use, typed here (Node-RED ships no types of its
 * own). Written against Node-RED 4.1 (@node-red/runtime/lib/nodes/Node.js, @node-red/registry).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';

/** Any message: Node-RED messages are plain objects; `payload` and `topic` are conventions. */
export interface NodeMessage {
  _msgid?: string;
  topic?: string;
  payload?: unknown;
  [property: string]: unknown;
}

/** One message per output, null for none, or an array of messages for several on one output. */
export type OutputMessages = Array<NodeMessage | NodeMessage[] | null>;
export type SendFunction = (msg: NodeMessage | OutputMessages) => void;
export type DoneFunction = (err?: Error) => void;

export interface NodeStatus {
  fill?: 'red' | 'green' | 'yellow' | 'blue' | 'grey';
  shape?: 'ring' | 'dot';
  text?: string;
}

/** The properties every node definition from the editor has. */
export interface NodeDef {
  id: string;
  type: string;
  name?: string;
  z?: string;
  wires?: string[][];
}

export type InputHandler = (msg: NodeMessage, send: SendFunction, done: DoneFunction) => void;
export type CloseHandler = (removed: boolean, done: () => void) => void;

/** A runtime node (`this` in a node's constructor after createNode). */
export interface Node {
  readonly id: string;
  readonly type: string;
  readonly z?: string;
  name?: string;
  /** Ids of the nodes on each output. */
  readonly wires: string[][];
  on(event: 'input', handler: InputHandler): void;
  on(event: 'close', handler: CloseHandler): void;
  send(msg: NodeMessage | OutputMessages): void;
  status(status: NodeStatus | Record<string, never>): void;
  /** With `msg`, a Catch node sees the error. */
  error(err: string | Error, msg?: NodeMessage): void;
  warn(text: string | Error): void;
  log(text: string): void;
  debug(text: string): void;
  trace(text: string): void;
}

export interface HttpRequest extends IncomingMessage {
  params: Record<string, string>;
  query: Record<string, string | string[] | undefined>;
}
export interface HttpResponse extends ServerResponse {
  json(body: unknown): void;
  status(code: number): HttpResponse;
}
export type HttpHandler = (req: HttpRequest, res: HttpResponse, next: (err?: Error) => void) => void;

export interface NodeConstructor<T extends Node, D extends NodeDef> {
  (this: T, def: D): void;
}

export interface NodeAPI {
  nodes: {
    createNode(node: Node, def: NodeDef): void;
    registerType<T extends Node, D extends NodeDef>(type: string, constructor: NodeConstructor<T, D>, options?: { settings?: Record<string, unknown> }): void;
    getNode(id: string): Node | null;
  };
  log: {
    info(text: string): void;
    warn(text: string): void;
    error(text: string): void;
    debug(text: string): void;
  };
  util: {
    cloneMessage<T>(msg: T): T;
    generateId(): string;
    /**
     * The value of a TypedInput property (@node-red/util util.js): `str` as it is, `msg` a property
     * of the message, `flow`/`global` a context value (through the callback: context stores may be
     * asynchronous), `env` an environment variable as the node's flow sees it.
     */
    evaluateNodeProperty(value: string, type: string, node: Node, msg: NodeMessage | null, callback: (err: Error | null, result: unknown) => void): void;
  };
  /**
   * A message of this node set's catalogue (locales/<lang>/<node>.json) in the runtime's language;
   * `__name__` in the text is replaced by `substitutions.name`. A key it lacks comes back as it is.
   */
  _(key: string, substitutions?: Record<string, string | number>): string;
  settings: Record<string, unknown>;
  httpAdmin: { get(path: string, ...handlers: HttpHandler[]): void };
  auth: { needsPermission(permission: string): HttpHandler };
}
