/** Applications, objects and launches (DESIGN "The seed"; issue 4). Types and events only. */

/** The seed's PeerScope: None (not published), NearMe (subnet), Internet (contacts), All (both). */
export type Scope = 'None' | 'NearMe' | 'Internet' | 'All';
/** Who is asking for a published list: a contact (Internet scope) or a peer on the subnet (NearMe). */
export type Visibility = 'contact' | 'nearby';
export type ItemChange = 'added' | 'updated' | 'removed';

export interface Application {
  id: string; // GUID, lower case
  description: string; // ≤ 256 characters
  data: string; // base64, ≤ 16 KB decoded
  command: string; // absolute path, run without a shell
  args: string[]; // ≤ 32, each ≤ 1 KB
  scope: Scope;
  registeredAt: number;
  updatedAt: number;
}
export type ApplicationInput = Pick<Application, 'id' | 'command'> &
  Partial<Pick<Application, 'description' | 'data' | 'args' | 'scope'>>;
/** What another hub may see (peer API `/v1/applications`): never the command or its arguments. */
export type ApplicationView = { id: string; description: string; scope: Scope; dataSize: number };

export interface SharedObject {
  id: string; // GUID, lower case
  data: string; // base64, ≤ 16 KB decoded
  scope: Scope;
  updatedAt: number;
}
export type ObjectInput = Pick<SharedObject, 'id'> & Partial<Pick<SharedObject, 'data' | 'scope'>>;
export type ObjectView = { id: string; scope: Scope; data: string; dataSize: number; updatedAt: number };

/** Emitted after the durable write; the peer API forwards them to subscribed contacts. */
export interface ApplicationEvents {
  'application:changed': { change: ItemChange; id: string };
}
export interface ObjectEvents {
  'object:changed': { change: ItemChange; id: string };
}

/** Handed to a launched application: JSON on stdin and in the file named by $PEERHUB_LAUNCH_INFO. */
export interface LaunchInfo {
  inviter: { peerId: string; nickname: string };
  message: string; // ≤ 255 characters
  data: string; // base64, ≤ 16 KB decoded
  sessionId: string;
  invitationId: string;
}

export interface LaunchResult {
  exitCode: number | null;
  signal: string | null;
  timedOut: boolean;
  durationMs: number;
  stdoutTail: string;
  stderrTail: string;
}

export interface Applications {
  open(): Promise<void>;
  close(): Promise<void>;
  /** Add, or update an application with the same id (no write, no event when nothing changed). */
  register(input: unknown): Promise<Application>;
  unregister(id: string): Promise<Application>;
  get(id: string): Application | undefined;
  list(): Application[];
  /** Published views for the asker(s): contact → Internet|All, nearby → NearMe|All. */
  listFor(visibility: Visibility | readonly Visibility[]): ApplicationView[];
}

export interface Objects {
  open(): Promise<void>;
  close(): Promise<void>;
  set(input: unknown): Promise<SharedObject>;
  delete(id: string): Promise<SharedObject>;
  get(id: string): SharedObject | undefined;
  list(): SharedObject[];
  listFor(visibility: Visibility | readonly Visibility[]): ObjectView[];
}

export interface Launcher {
  launch(app: Pick<Application, 'id' | 'command' | 'args'>, info: LaunchInfo): Promise<LaunchResult>;
  /** Launches running or waiting right now. */
  readonly active: number;
  /** Refuse new launches, terminate running ones (SIGTERM, then SIGKILL) and wait for them. */
  close(): Promise<void>;
}
