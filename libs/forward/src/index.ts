export { ForwardError, forwardErrorCodes, type ForwardErrorCode } from "./errors.ts";
export { describeRoute, formatHostPort, parseHostPort, parseRouteTarget, routeView, type ParseTargetOptions, type RouteResolver } from "./routes.ts";
export { openUpstream, UpstreamError, type UpstreamOptions } from "./upstream.ts";
export { defaultListenAddress, ForwardDaemon, type ForwardDaemonOptions, type ForwardLogEvent } from "./forward-daemon.ts";
export { listenForControl, type ControlHandler, type ControlRequest, type ControlServer } from "./control-server.ts";
export { ForwardControl } from "./forward-control.ts";
export { forwardPaths, readForwardState, type ForwardPaths } from "./state-files.ts";
export { runForwardService, type ForwardServiceOptions, type RunningForwardService } from "./forward-service.ts";
export {
  forwardProcessStatus,
  startForwardProcess,
  stopForwardProcess,
  useRoute,
  type UsedRoute,
  type UseRouteOptions,
  type ForwardProcessStatus,
  type StartedForwardProcess,
  type StartForwardProcessOptions,
  type StoppedForwardProcess,
} from "./forward-process.ts";
export { startTunnelRelay, type TunnelRelay, type TunnelRelayOptions } from "./tunnel-relay.ts";
