// The view's side of the connection to its host, through protocol.ts only.
import { isHostToView, type HostToView, type RecordPage, type RecordPageRequest, type ViewToHost } from './protocol';

interface VsCodeApi {
  postMessage(msg: unknown): void;
}
declare const acquireVsCodeApi: undefined | (() => VsCodeApi);

export interface Host {
  /** True inside a VS Code webview; false in the standalone page. */
  readonly present: boolean;
  post(msg: ViewToHost): void;
  onMessage(handler: (msg: HostToView) => void): () => void;
  /** Asks the host for a page of records; the reply names this request (inReplyTo). Rejects without a host. */
  request(req: RecordPageRequest): Promise<RecordPage>;
}

let api: VsCodeApi | null | undefined;

let nextId = 1;
const pending = new Map<number, { resolve(p: RecordPage): void; reject(e: Error): void }>();
let listening = false;

export function connectHost(): Host {
  if (api === undefined) api = typeof acquireVsCodeApi === 'function' ? acquireVsCodeApi() : null;
  const vscode = api;
  if (!listening) {
    listening = true;
    window.addEventListener('message', (ev: MessageEvent) => {
      const m = ev.data;
      if (!isHostToView(m) || (m.type !== 'recordPage' && m.type !== 'recordPageError')) return;
      const p = pending.get(m.inReplyTo);
      if (!p) return;
      pending.delete(m.inReplyTo);
      if (m.type === 'recordPage') p.resolve(m.page);
      else p.reject(new Error(m.message));
    });
  }
  return {
    request(req: RecordPageRequest): Promise<RecordPage> {
      if (!vscode) return Promise.reject(new Error('no host: the standalone page carries a selection of the records'));
      const messageId = nextId++;
      return new Promise((resolve, reject) => {
        pending.set(messageId, { resolve, reject });
        vscode.postMessage({ type: 'recordPage', messageId, request: req } satisfies ViewToHost);
      });
    },
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
