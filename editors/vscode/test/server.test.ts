/**
 * The extension's command flow against the real Fathom server and the real CPU model, over
 * the protocol stack VS Code's client uses (vscode-languageserver-protocol on
 * vscode-jsonrpc), with the capabilities VS Code announces. The edit confirmation goes
 * through the extension's own functions (needsConfirmation, proposedTexts, approved).
 *
 * FATHOM_SERVER names the `fathom` program (default: the repository's .venv).
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, test } from 'node:test';
import { pathToFileURL } from 'node:url';

import {
  type ApplyWorkspaceEditParams,
  type ApplyWorkspaceEditResult,
  type CodeAction,
  type Command,
  createProtocolConnection,
  type Diagnostic,
  type ProtocolConnection,
  type PublishDiagnosticsParams,
  type Range,
  StreamMessageReader,
  StreamMessageWriter,
} from 'vscode-languageserver-protocol/node';

import {
  EDIT_COMMAND,
  EDIT_WITH_INSTRUCTION,
  type EditResult,
  type FathomPreview,
  type FathomStatus,
  PREVIEW_NOTIFICATION,
  REVIEW_COMMAND,
  type ReviewResult,
  STATUS_COMMAND,
  STATUS_NOTIFICATION,
  approved,
  editArguments,
  needsConfirmation,
  proposedTexts,
  reviewArguments,
  statusText,
} from '../src/protocol';

const REPO = resolve(__dirname, '..', '..', '..', '..');
const SERVER = process.env.FATHOM_SERVER ?? join(REPO, '.venv', 'bin', 'fathom');
const MINUTES = 60_000;

const STATS = `def total_price(items):
    total = 0
    for item in items:
        total += item.price * item.quantity
`;

/** What VS Code 1.9x announces for what Fathom uses. */
const VSCODE_CAPABILITIES = {
  general: { positionEncodings: ['utf-16'] },
  workspace: {
    applyEdit: true,
    workspaceEdit: {
      documentChanges: true,
      resourceOperations: ['create', 'rename', 'delete'],
      failureHandling: 'textOnlyTransactional',
      normalizesLineEndings: true,
      changeAnnotationSupport: { groupsOnLabel: true },
    },
    configuration: true,
    workspaceFolders: true,
    didChangeConfiguration: { dynamicRegistration: true },
    executeCommand: { dynamicRegistration: true },
  },
  textDocument: {
    synchronization: { dynamicRegistration: true, didSave: true },
    codeAction: {
      dynamicRegistration: true,
      isPreferredSupport: true,
      dataSupport: true,
      resolveSupport: { properties: ['edit'] },
      codeActionLiteralSupport: {
        codeActionKind: {
          valueSet: ['', 'quickfix', 'refactor', 'refactor.extract', 'refactor.inline',
            'refactor.rewrite', 'source', 'source.organizeImports'],
        },
      },
    },
    publishDiagnostics: { relatedInformation: true, codeDescriptionSupport: true },
  },
  window: { workDoneProgress: true, showMessage: {}, showDocument: { support: true } },
};

interface OpenDocument {
  version: number;
  text: string;
}

/** The editor side: open documents, what the server sent, and how edits are answered. */
class Editor {
  readonly documents = new Map<string, OpenDocument>();
  readonly statuses: FathomStatus[] = [];
  readonly previews: FathomPreview[] = [];
  readonly progress = new Map<string | number, { kind: string; title?: string; message?: string }[]>();
  readonly diagnostics = new Map<string, Diagnostic[]>();
  readonly messages: string[] = [];
  readonly confirmations: string[] = [];
  /** What the user answers in the diff view: apply the proposed change, or discard it. */
  answer: 'apply' | 'discard' = 'apply';
  private stderr = '';

  readonly connection: ProtocolConnection;
  readonly process: ChildProcess;

  constructor(readonly root: string) {
    this.process = spawn(SERVER, ['serve'], {
      cwd: root,
      stdio: ['pipe', 'pipe', 'pipe'],
      env: { ...process.env, TOKENIZERS_PARALLELISM: 'false' },
    });
    this.process.stderr!.on('data', (chunk: Buffer) => {
      this.stderr = (this.stderr + chunk.toString()).slice(-4000);
    });
    this.connection = createProtocolConnection(
      new StreamMessageReader(this.process.stdout!),
      new StreamMessageWriter(this.process.stdin!),
    );
    const c = this.connection;
    c.onRequest('workspace/configuration', () => [{ reviewSeverity: 'hint' }]);
    c.onRequest('window/workDoneProgress/create', () => null);
    c.onRequest('client/registerCapability', () => null);
    c.onRequest('workspace/applyEdit', (p: ApplyWorkspaceEditParams) => this.applyEdit(p));
    c.onNotification('$/progress', (p: { token: string | number; value: { kind: string } }) => {
      const seen = this.progress.get(p.token) ?? [];
      seen.push(p.value);
      this.progress.set(p.token, seen);
    });
    c.onNotification(STATUS_NOTIFICATION, (s: FathomStatus) => {
      this.statuses.push(s);
    });
    c.onNotification(PREVIEW_NOTIFICATION, (p: FathomPreview) => {
      this.previews.push(p);
    });
    c.onNotification('textDocument/publishDiagnostics', (p: PublishDiagnosticsParams) => {
      this.diagnostics.set(p.uri, p.diagnostics);
    });
    c.onNotification('window/showMessage', (p: { message: string }) => {
      this.messages.push(p.message);
    });
    c.onNotification('window/logMessage', () => undefined);
    c.listen();
  }

  get log(): string {
    return this.stderr;
  }

  /** The extension's handleApplyEdit: confirm in the diff view, then VS Code applies it. */
  applyEdit(params: ApplyWorkspaceEditParams): ApplyWorkspaceEditResult {
    assert.ok(needsConfirmation(params.edit), 'VS Code capabilities: the edit asks to confirm');
    const texts = proposedTexts(params.edit, (uri) => {
      const doc = this.documents.get(uri);
      assert.ok(doc, `${uri} is not open`);
      return doc.text;
    });
    this.confirmations.push(params.label ?? '');
    if (this.answer === 'discard') {
      return { applied: false, failureReason: 'the user discarded the proposed change' };
    }
    const edit = approved(params).edit;
    assert.equal(needsConfirmation(edit), false);
    // What VS Code's client checks before applying: the versions still match.
    for (const change of edit.documentChanges ?? []) {
      if ('textDocument' in change && change.textDocument.version !== null) {
        const doc = this.documents.get(change.textDocument.uri);
        if (!doc || doc.version !== change.textDocument.version) return { applied: false };
      }
    }
    for (const [uri, text] of texts) this.change(uri, text);
    return { applied: true };
  }

  async open(path: string): Promise<string> {
    const uri = pathToFileURL(path).toString();
    const text = readFileSync(path, 'utf8');
    this.documents.set(uri, { version: 1, text });
    await this.connection.sendNotification('textDocument/didOpen', {
      textDocument: { uri, languageId: 'python', version: 1, text },
    });
    return uri;
  }

  change(uri: string, text: string): void {
    const doc = this.documents.get(uri)!;
    doc.version += 1;
    doc.text = text;
    void this.connection.sendNotification('textDocument/didChange', {
      textDocument: { uri, version: doc.version },
      contentChanges: [{ text }],
    });
  }

  command<T>(command: string, args: unknown[]): Promise<T> {
    return this.connection.sendRequest('workspace/executeCommand', { command, arguments: args });
  }
}

function wholeLines(first: number, last: number): Range {
  return { start: { line: first, character: 0 }, end: { line: last + 1, character: 0 } };
}

async function until(what: string, seconds: number, check: () => boolean): Promise<void> {
  const deadline = Date.now() + seconds * 1000;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

let project: string;
let editor: Editor;

before(async () => {
  project = mkdtempSync(join(tmpdir(), 'fathom-vscode-'));
  cpSync(join(REPO, 'cli', 'demo_project'), project, { recursive: true });
  writeFileSync(join(project, 'shop', 'stats.py'), STATS);
  editor = new Editor(project);
  const rootUri = pathToFileURL(project).toString();
  const init = await editor.connection.sendRequest('initialize', {
    processId: process.pid,
    clientInfo: { name: 'Visual Studio Code', version: '1.95.0' },
    rootUri,
    workspaceFolders: [{ uri: rootUri, name: 'sample' }],
    capabilities: VSCODE_CAPABILITIES,
    initializationOptions: { maxOutputTokens: 512 },
  }) as { capabilities: { executeCommandProvider?: { commands: string[] } } };
  const commands = init.capabilities.executeCommandProvider?.commands ?? [];
  // vscode-languageclient registers exactly these as VS Code commands.
  for (const name of [EDIT_COMMAND, REVIEW_COMMAND, STATUS_COMMAND]) {
    assert.ok(commands.includes(name), `${name} not offered: ${commands}`);
  }
  // The client-side command must not be claimed by the server, or VS Code would refuse
  // to register the extension's own.
  assert.ok(!commands.includes(EDIT_WITH_INSTRUCTION));
  await editor.connection.sendNotification('initialized', {});
});

after(async () => {
  if (editor) {
    await editor.connection.sendRequest('shutdown').catch(() => undefined);
    await editor.connection.sendNotification('exit').catch(() => undefined);
    await new Promise((r) => setTimeout(r, 500));
    editor.process.kill();
    editor.connection.dispose();
  }
  rmSync(project, { recursive: true, force: true });
});

test('Edit with instruction: diff view discard, then apply, through the real model', { timeout: 10 * MINUTES }, async () => {
  const path = join(project, 'shop', 'report.py');
  const uri = await editor.open(path);
  const original = editor.documents.get(uri)!.text;
  const at = original.split('\n').findIndex((l) => l.startsWith('def describe('));
  assert.ok(at >= 0);
  const range = wholeLines(at, at + 1);

  // The refactor list the extension's "Refactor…" shows is the server's code actions.
  const actions = (await editor.connection.sendRequest('textDocument/codeAction', {
    textDocument: { uri },
    range,
    context: { diagnostics: [], triggerKind: 1 },
  })) as CodeAction[];
  const titles = actions.map((a) => a.title);
  for (const title of ['Fathom: Extract function', 'Fathom: Simplify', 'Fathom: Edit with instruction…']) {
    assert.ok(titles.includes(title), `${title} missing from ${titles}`);
  }
  const ask = actions.find((a) => a.title === 'Fathom: Edit with instruction…')!;
  const askCommand = ask.command as Command;
  assert.equal(askCommand.command, EDIT_WITH_INSTRUCTION);
  const payload = askCommand.arguments![0] as { uri: string; range: Range };
  assert.equal(payload.uri, uri);

  // What the extension sends once the user typed the instruction.
  const instruction = 'Rename the function describe to describe_item.';
  editor.answer = 'discard';
  // The user's Discard is an answer, not a failure: no error, the reason says what happened.
  const discarded = await editor.command<EditResult>(
    EDIT_COMMAND, editArguments(payload.uri, payload.range, instruction),
  );
  assert.equal(discarded.applied, false);
  assert.match(discarded.reason ?? '', /discarded/);
  assert.equal(editor.documents.get(uri)!.text, original, 'a discarded change changed nothing');
  assert.equal(editor.documents.get(uri)!.version, 1);

  editor.answer = 'apply';
  const result = await editor.command<EditResult>(
    EDIT_COMMAND, editArguments(payload.uri, payload.range, instruction),
  );
  assert.equal(result.applied, true);
  const text = editor.documents.get(uri)!.text;
  assert.match(text, /^def describe_item\(/m);
  assert.doesNotMatch(text, /^def describe\(/m);
  // The buffer changed exactly as the returned diff says: for every line, how often it
  // occurs changed by (times added) - (times removed).
  const counts = (items: string[]) => {
    const out = new Map<string, number>();
    for (const item of items) out.set(item, (out.get(item) ?? 0) + 1);
    return out;
  };
  const diffLines = result.diff.split('\n');
  const added = counts(diffLines.filter((l) => /^\+(?!\+\+ )/.test(l)).map((l) => l.slice(1)));
  const removed = counts(diffLines.filter((l) => /^-(?!-- )/.test(l)).map((l) => l.slice(1)));
  const before = counts(original.split('\n'));
  const now = counts(text.split('\n'));
  assert.ok(added.size > 0, result.diff);
  for (const line of new Set([...before.keys(), ...now.keys(), ...added.keys()])) {
    const expected = (added.get(line) ?? 0) - (removed.get(line) ?? 0);
    assert.equal((now.get(line) ?? 0) - (before.get(line) ?? 0), expected, `line ${JSON.stringify(line)}`);
  }
  assert.equal(editor.confirmations.length, 2);

  // Progress and the streamed reply, as the status bar and output channel show them.
  const titlesSeen = [...editor.progress.values()].map((v) => v[0]?.title ?? '');
  assert.ok(titlesSeen.some((t) => t.includes('editing report.py')), `progress: ${titlesSeen}`);
  const done = editor.previews.filter((p) => p.kind === 'edit' && p.done);
  assert.ok(done.length >= 1 && done[done.length - 1].text.includes('describe_item'));
  assert.ok(editor.statuses.some((s) => s.state === 'busy'));
  assert.match(statusText(editor.statuses.find((s) => s.state === 'busy')!), /Fathom: edit/);
});

test('Review file: findings arrive as diagnostics the status bar can count', { timeout: 10 * MINUTES }, async () => {
  const uri = await editor.open(join(project, 'shop', 'stats.py'));
  const review = await editor.command<ReviewResult>(REVIEW_COMMAND, reviewArguments(uri));
  assert.ok(review.findings.length > 0, `the review found nothing in ${STATS}`);
  await until('diagnostics', 10, () => (editor.diagnostics.get(uri)?.length ?? 0) > 0);
  const diagnostics = editor.diagnostics.get(uri)!;
  assert.ok(diagnostics.every((d) => d.source === 'fathom'));
  const ids = new Set(review.findings.map((f) => f.id));
  assert.ok(diagnostics.every((d) => ids.has(String(d.code))));
  assert.equal(editor.documents.get(uri)!.text, STATS, 'a review changes nothing');

  const status = await editor.command<{ state: string; engineRequests: string[] }>(STATUS_COMMAND, []);
  assert.equal(status.state, 'ready');
  assert.deepEqual(status.engineRequests, []);
  const last = editor.statuses[editor.statuses.length - 1];
  assert.equal(last.state, 'ready', editor.log);
});
