/**
 * What the extension says to Fathom's server and how it reads the answers, with no `vscode`
 * import: the Node tests drive the real server through these same functions.
 */
import type {
  AnnotatedTextEdit,
  ApplyWorkspaceEditParams,
  Position,
  Range,
  TextEdit,
  WorkspaceEdit,
} from 'vscode-languageserver-protocol';

export const EDIT_COMMAND = 'fathom.edit';
export const REVIEW_COMMAND = 'fathom.review';
export const STATUS_COMMAND = 'fathom.status';
/** Client-side: ask for the instruction, then run `fathom.edit` (LSP has no input box). */
export const EDIT_WITH_INSTRUCTION = 'fathom.editWithInstruction';
export const STATUS_NOTIFICATION = 'fathom/status';
export const PREVIEW_NOTIFICATION = 'fathom/preview';
/** A request: `{textDocument: {uri, version}, position}` -> `NextEditResult`. */
export const NEXT_EDIT_REQUEST = 'fathom/nextEdit';
/** Run with a suggestion's own arguments when the user accepts it (the journal counts it). */
export const NEXT_EDIT_ACCEPTED_COMMAND = 'fathom.nextEditAccepted';
/** Run when the user accepts an inline completion; its item's command carries the id. */
export const COMPLETION_ACCEPTED = 'fathom.completionAccepted';

export interface FathomStatus {
  state: 'idle' | 'loading' | 'ready' | 'busy' | 'error';
  model?: string | null;
  engine?: string;
  jobs?: { kind: string; uri: string }[];
  error?: string | null;
  message?: string;
}

export interface FathomPreview {
  uri: string;
  kind: string;
  requestId: string;
  text: string;
  tokens: number;
  elapsed: number;
  done: boolean;
}

/** One next-edit suggestion: replace `range` (whole lines of that version) with `text`. */
export interface NextEdit {
  text: string;
  textDocument: { uri: string; version: number };
  range: Range;
  command?: { title: string; command: string; arguments?: unknown[] };
}

/** `fathom/nextEdit`'s answer (the Copilot language server's next-edit shape); empty when the
 * document changed meanwhile or nothing follows from the recent edits. */
export interface NextEditResult {
  edits: NextEdit[];
}

export interface EditResult {
  applied: boolean;
  /** When not applied: why the editor refused it (the user's Discard among them). */
  reason?: string;
  /** When not applied: the journal that keeps the planned diff. */
  journal?: string;
  diff: string;
  repairs: string[];
  rounds: number;
  seconds: number;
  context: { kind: string; path: string; tokens: number }[];
}

export interface Finding {
  id: string;
  line: number;
  severity: string;
  message: string;
}

export interface ReviewResult {
  findings: Finding[];
}

/** The argument `fathom.edit` takes (what the server's code actions send too). */
export function editArguments(uri: string, range: Range, instruction: string): unknown[] {
  return [{ uri, range, instruction }];
}

export function reviewArguments(uri: string, range?: Range): unknown[] {
  return [range ? { uri, range } : { uri }];
}

/** Status bar text: one glance tells whether Fathom can take a request now. */
export function statusText(status: FathomStatus): string {
  const model = status.model ? ` ${shortModel(status.model)}` : '';
  switch (status.state) {
    case 'loading':
      return `$(sync~spin) Fathom: loading${model}`;
    case 'busy': {
      const kinds = (status.jobs ?? []).map((j) => j.kind).join(', ');
      return `$(loading~spin) Fathom: ${kinds || 'working'}`;
    }
    case 'error':
      return '$(error) Fathom: engine failed';
    case 'ready':
      return `$(check) Fathom${model}`;
    default:
      return '$(circle-outline) Fathom';
  }
}

export function statusTooltip(status: FathomStatus): string {
  const parts = [`Fathom is ${status.state}`];
  if (status.model) parts.push(`model: ${status.model} (${status.engine ?? 'embedded'})`);
  if (status.message) parts.push(status.message);
  if (status.error) parts.push(status.error);
  return parts.join('\n');
}

function shortModel(model: string): string {
  const parts = model.split(/[\\/]/).filter(Boolean);
  return parts[parts.length - 1] ?? model;
}

/** True when the server asked the editor to show the change before applying it. */
export function needsConfirmation(edit: WorkspaceEdit): boolean {
  return Object.values(edit.changeAnnotations ?? {}).some((a) => a.needsConfirmation === true);
}

/** The same edit once the user has approved it: no second confirmation by the editor. */
export function approved(params: ApplyWorkspaceEditParams): ApplyWorkspaceEditParams {
  const annotations = params.edit.changeAnnotations;
  if (!annotations) return params;
  const cleared = Object.fromEntries(
    Object.entries(annotations).map(([id, a]) => [id, { ...a, needsConfirmation: false }]),
  );
  return { ...params, edit: { ...params.edit, changeAnnotations: cleared } };
}

export interface ProposedFile {
  uri: string;
  /** The document version the edit was made for (null: a file not open, or a new file). */
  version: number | null;
  edits: (TextEdit | AnnotatedTextEdit)[];
}

/** Text edits per document, from `documentChanges` or `changes`. File operations (create,
 * rename, delete) are listed by the preview but have no text to show here. */
export function textEditsByDocument(edit: WorkspaceEdit): ProposedFile[] {
  const files: ProposedFile[] = [];
  for (const change of edit.documentChanges ?? []) {
    if ('textDocument' in change) {
      files.push({
        uri: change.textDocument.uri,
        version: change.textDocument.version,
        edits: change.edits.filter((e): e is TextEdit => 'newText' in e),
      });
    }
  }
  for (const [uri, edits] of Object.entries(edit.changes ?? {})) {
    files.push({ uri, version: null, edits });
  }
  return files;
}

export function fileOperations(edit: WorkspaceEdit): string[] {
  const out: string[] = [];
  for (const change of edit.documentChanges ?? []) {
    if ('kind' in change) {
      if (change.kind === 'rename') out.push(`rename ${change.oldUri} -> ${change.newUri}`);
      else out.push(`${change.kind} ${change.uri}`);
    }
  }
  return out;
}

/** Offset of an LSP position (UTF-16 code units, JavaScript's own string indexing). */
export function offsetAt(text: string, position: Position): number {
  let offset = 0;
  for (let line = 0; line < position.line; line++) {
    const next = nextLineStart(text, offset);
    if (next < 0) throw new RangeError(`line ${position.line} is past the end of the document`);
    offset = next;
  }
  const end = lineContentEnd(text, offset);
  if (offset + position.character > end) {
    throw new RangeError(
      `character ${position.character} is past the end of line ${position.line}`,
    );
  }
  return offset + position.character;
}

function nextLineStart(text: string, from: number): number {
  for (let i = from; i < text.length; i++) {
    if (text[i] === '\n') return i + 1;
    if (text[i] === '\r') return text[i + 1] === '\n' ? i + 2 : i + 1;
  }
  return -1;
}

function lineContentEnd(text: string, from: number): number {
  let i = from;
  while (i < text.length && text[i] !== '\n' && text[i] !== '\r') i++;
  return i;
}

/** `text` with `edits` applied as LSP says: all ranges refer to the original text and must
 * not overlap; a clear error (never a garbled result) when they do. */
export function applyTextEdits(text: string, edits: readonly TextEdit[]): string {
  const spans = edits
    .map((edit, order) => ({
      start: offsetAt(text, edit.range.start),
      end: offsetAt(text, edit.range.end),
      newText: edit.newText,
      order,
    }))
    .sort((a, b) => a.start - b.start || a.end - b.end || a.order - b.order);
  let out = '';
  let at = 0;
  for (const span of spans) {
    if (span.end < span.start) throw new RangeError('an edit ends before it starts');
    if (span.start < at) throw new RangeError('two edits overlap');
    out += text.slice(at, span.start) + span.newText;
    at = span.end;
  }
  return out + text.slice(at);
}

/** The text each document would have after `edit`, for the diff view shown before applying. */
export function proposedTexts(
  edit: WorkspaceEdit,
  currentText: (uri: string) => string,
): Map<string, string> {
  const out = new Map<string, string>();
  for (const file of textEditsByDocument(edit)) {
    out.set(file.uri, applyTextEdits(out.get(file.uri) ?? currentText(file.uri), file.edits));
  }
  return out;
}

/** The label of a preview: what Fathom is doing and how far it got. */
export function previewSummary(preview: FathomPreview): string {
  const state = preview.done ? 'done' : 'writing';
  return `Fathom ${preview.kind}: ${state}, ${preview.tokens} tokens, ${preview.elapsed.toFixed(1)} s`;
}
