// The view's side of the connection to its host, through protocol.ts only.
import { isHostToView, type HostToView, type ViewToHost } from './protocol';

interface VsCodeApi {
  postMessage(msg: unknown): void;
}
declare const acquireVsCodeApi: undefined | (() => VsCodeApi);

export interface Host {
  /** True inside a VS Code webview; false in the standalone page. */
  readonly present: boolean;
  post(msg: ViewToHost): void;
  onMessage(handler: (msg: HostToView) => void): () => void;
}

let api: VsCodeApi | null | undefined;

export function connectHost(): Host {
  if (api === undefined) api = typeof acquireVsCodeApi === 'function' ? acquireVsCodeApi() : null;
  const vscode = api;
  return {
    present: vscode !== null,
    post(msg: ViewToHost) {
      vscode?.postMessage(msg);
    },
    onMessage(handler) {
      const listener = (ev: MessageEvent) => {
        if (isHostToView(ev.data)) handler(ev.data);
      };
      window.addEventListener('message', listener);
      return () => window.removeEventListener('message', listener);
    },
  };
}
