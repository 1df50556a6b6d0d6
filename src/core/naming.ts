/**
 * How one handler name (`domain.action`, possibly `domain.sub.action`) is spelled on each
 * transport. Every transport derives its names from these functions and nothing else.
 */

/** `task.create`, `system.batch.process`, `hook.pre_tool`: lower-case segments joined by dots. */
export const HANDLER_NAME = /^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$/;

export const isValidHandlerName = (name: string) => HANDLER_NAME.test(name);

/** `system.batch.process` → `/system/batch/process` */
export const toHttpPath = (name: string) => `/${name.split(".").join("/")}`;

/** `/system/batch/process` → `system.batch.process` (no validation: look the result up). */
export const fromHttpPath = (path: string) => path.slice(1).split("/").join(".");

/** `task.create` → `task__create` (MCP tool names allow no dots in many clients). */
export const toToolName = (name: string) => name.split(".").join("__");

/** `task__create` → `task.create` */
export const fromToolName = (tool: string) => tool.split("__").join(".");

/** The first segment: `task` for `task.create`. */
export const domainOf = (name: string) => name.slice(0, name.indexOf("."));
