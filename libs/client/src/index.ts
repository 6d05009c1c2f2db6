/**
 * @postbox/client: the postbox SDK for Node and browsers. Nothing here imports a Node module;
 * the `ws` transport is loaded lazily, only where no global WebSocket exists.
 */
export { connect, PostboxClient, type ClientEvents, type CloseEvent } from './client';
export { PostboxError, type ClientErrorCode, type PostboxErrorCode } from './errors';
export type { Message, MessageHandler } from './inbox';
export type { Accepted } from './outbox';
export type { ConnectOptions, TokenSource } from './options';
export type { BackoffOptions } from './backoff';
export type { Socket, SocketClosed, SocketEvents, SocketFactory } from './socket';
