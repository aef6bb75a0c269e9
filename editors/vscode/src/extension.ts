/**
 * Fathom for VS Code: a thin client. It starts `fathom serve`, exposes the commands, shows
 * `fathom/status` in the status bar and the streamed reply in an output channel, and shows a
 * proposed change in VS Code's diff view before it is applied when the edit asks for
 * confirmation. The edit itself is applied by VS Code (its own undo), versions checked.
 */
import * as vscode from 'vscode';
import {
  CancellationToken,
  LanguageClient,
  type LanguageClientOptions,
  type ServerOptions,
  State,
  TransportKind,
} from 'vscode-languageclient/node';
import type {
  ApplyWorkspaceEditParams,
  ApplyWorkspaceEditResult,
  Range,
} from 'vscode-languageserver-protocol';

import {
  EDIT_COMMAND,
  EDIT_WITH_INSTRUCTION,
  type EditResult,
  type FathomPreview,
  type FathomStatus,
  PREVIEW_NOTIFICATION,
  REVIEW_COMMAND,
  STATUS_COMMAND,
  STATUS_NOTIFICATION,
  approved,
  editArguments,
  fileOperations,
  needsConfirmation,
  previewSummary,
  proposedTexts,
  reviewArguments,
  statusText,
  statusTooltip,
} from './protocol';
import { NextEdits } from './nextEdit';
import { showProgressWhereItCanBeCancelled } from './progress';

const PROPOSED_SCHEME = 'fathom-proposed';
/** What the diff view answers when the user discards: the user's choice, no failure. */
const DISCARDED = 'the user discarded the proposed change';
/** How long a restart waits for the old server to stop before killing it. */
const STOP_TIMEOUT_MS = 3000;

let client: LanguageClient | undefined;

/** Proposed texts by URI, served to the diff view's right-hand side. */
class ProposedContent implements vscode.TextDocumentContentProvider {
  private readonly texts = new Map<string, string>();
  private readonly changed = new vscode.EventEmitter<vscode.Uri>();
  readonly onDidChange = this.changed.event;

  uriFor(original: vscode.Uri): vscode.Uri {
    return original.with({ scheme: PROPOSED_SCHEME, query: original.scheme });
  }

  set(original: vscode.Uri, text: string): vscode.Uri {
    const uri = this.uriFor(original);
    this.texts.set(uri.toString(), text);
    this.changed.fire(uri);
    return uri;
  }

  provideTextDocumentContent(uri: vscode.Uri): string {
    return this.texts.get(uri.toString()) ?? '';
  }

  /** Drop a proposal whose diff view has closed. */
  forget(uri: string): void {
    this.texts.delete(uri);
  }
}

function serverOptions(config: vscode.WorkspaceConfiguration): ServerOptions {
  const python = config.get<string>('pythonPath') ?? '';
  const serverPath = config.get<string>('serverPath') || 'fathom';
  // Either a Python interpreter with Fathom installed, or the `fathom` script itself.
  const run = python
    ? { command: python, args: ['-m', 'fathom.cli', 'serve'] }
    : { command: serverPath, args: ['serve'] };
  return { ...run, transport: TransportKind.stdio };
}

function settings(config: vscode.WorkspaceConfiguration): Record<string, unknown> {
  const keys = ['engine', 'model', 'serverUrl', 'serverModel', 'contextBudget',
    'maxOutputTokens', 'reviewSeverity', 'journalMaxDays', 'journalMaxMegabytes', 'editFormat',
    'temperature', 'repetitionPenalty', 'retryTemperature'];
  const out: Record<string, unknown> = {};
  for (const key of keys) {
    const value = config.get(key);
    if (value !== undefined && value !== null && value !== '') out[key] = value;
  }
  return out;
}

/** Show the change in VS Code's diff view (one per file) and ask before applying it. */
async function confirmInDiffView(
  params: ApplyWorkspaceEditParams,
  proposed: ProposedContent,
): Promise<boolean> {
  const texts = proposedTexts(params.edit, (uri) => {
    const open = vscode.workspace.textDocuments.find((d) => d.uri.toString() === uri);
    if (!open) throw new Error(`${uri} is not open; Fathom edits open documents`);
    return open.getText();
  });
  const shown: vscode.Uri[] = [];
  for (const [uri, text] of texts) {
    const original = vscode.Uri.parse(uri);
    const right = proposed.set(original, text);
    shown.push(right);
    const name = original.path.split('/').pop() ?? uri;
    await vscode.commands.executeCommand(
      'vscode.diff', original, right, `Fathom: proposed change to ${name}`, { preview: true },
    );
  }
  const operations = fileOperations(params.edit);
  const detail = [params.label ?? 'Fathom edit', ...operations].join('\n');
  try {
    const choice = await vscode.window.showInformationMessage(
      'Apply the change Fathom proposes?', { modal: true, detail },
      { title: 'Apply' }, { title: 'Discard', isCloseAffordance: true },
    );
    return choice?.title === 'Apply';
  } finally {
    await closeProposedDiffs(proposed, shown);
  }
}

/** Close the diff views `confirmInDiffView` opened once the user has chosen: left open, they
 * would go on showing a discarded (or already applied) change as still proposed. Only this
 * change's: another edit's may be waiting for its own answer. */
async function closeProposedDiffs(proposed: ProposedContent, shown: vscode.Uri[]): Promise<void> {
  const mine = new Set(shown.map((uri) => uri.toString()));
  const tabs = vscode.window.tabGroups.all.flatMap((group) => group.tabs).filter(
    (tab) => tab.input instanceof vscode.TabInputTextDiff
      && mine.has(tab.input.modified.toString()),
  );
  if (tabs.length > 0) await vscode.window.tabGroups.close(tabs);
  for (const uri of mine) proposed.forget(uri);
}

function selectionRange(editor: vscode.TextEditor): vscode.Range {
  const s = editor.selection;
  // No selection: the line under the cursor.
  return s.isEmpty ? editor.document.lineAt(s.active.line).range : s;
}

export async function activate(context: vscode.ExtensionContext): Promise<void> {
  const config = vscode.workspace.getConfiguration('fathom');
  const output = vscode.window.createOutputChannel('Fathom', { log: true });
  const replies = vscode.window.createOutputChannel('Fathom: model reply');
  const status = vscode.window.createStatusBarItem(vscode.StatusBarAlignment.Right, 100);
  status.text = statusText({ state: 'idle' });
  status.command = 'fathom.showStatus';
  status.show();
  const proposed = new ProposedContent();
  context.subscriptions.push(
    output, replies, status,
    vscode.workspace.registerTextDocumentContentProvider(PROPOSED_SCHEME, proposed),
  );

  const clientOptions: LanguageClientOptions = {
    documentSelector: [{ scheme: 'file' }],
    outputChannel: output,
    initializationOptions: settings(config),
    synchronize: { configurationSection: 'fathom' },
    middleware: {
      workspace: {
        handleApplyEdit: async (params, next): Promise<ApplyWorkspaceEditResult> => {
          const mode = vscode.workspace.getConfiguration('fathom').get<string>('previewEdits');
          if (!needsConfirmation(params.edit) || mode === 'refactorPreview') {
            return next(params, CancellationToken.None) as Promise<ApplyWorkspaceEditResult>;
          }
          if (mode !== 'never' && !(await confirmInDiffView(params, proposed))) {
            return { applied: false, failureReason: DISCARDED };
          }
          // Approved here: VS Code applies it without asking a second time.
          return next(approved(params), CancellationToken.None) as Promise<ApplyWorkspaceEditResult>;
        },
      },
    },
  };
  client = new LanguageClient('fathom', 'Fathom', serverOptions(config), clientOptions);
  client.onNotification(STATUS_NOTIFICATION, (s: FathomStatus) => {
    status.text = statusText(s);
    status.tooltip = statusTooltip(s);
    status.accessibilityInformation = { label: `Fathom status: ${s.state}` };
  });
  client.onNotification(PREVIEW_NOTIFICATION, (p: FathomPreview) => {
    replies.replace(`${previewSummary(p)}\n\n${p.text}`);
  });
  // The status bar never claims "ready" for a server that is not running.
  client.onDidChangeState(({ newState }) => {
    if (newState === State.Stopped) {
      status.text = '$(circle-slash) Fathom: stopped';
      status.tooltip = 'The Fathom server is not running: run "Fathom: Restart the server".';
      status.accessibilityInformation = { label: 'Fathom status: stopped' };
    } else if (newState === State.Starting) {
      status.text = statusText({ state: 'loading' });
      status.tooltip = 'Fathom is starting';
      status.accessibilityInformation = { label: 'Fathom status: loading' };
    }
  });
  context.subscriptions.push(new NextEdits(() => client));
  const start = async (): Promise<void> => {
    await client!.start();
    showProgressWhereItCanBeCancelled(client!);
  };

  const run = async <T>(command: string, args: unknown[]): Promise<T | undefined> => {
    if (!client) return undefined;
    if (!client.isRunning()) {
      void vscode.window.showWarningMessage(
        'Fathom: the server is not running. Run "Fathom: Restart the server".',
      );
      return undefined;
    }
    try {
      // Progress and cancellation come from the server's own work-done progress.
      return (await vscode.commands.executeCommand(command, ...args)) as T;
    } catch (error) {
      // The server already showed why; keep the detail in the log.
      output.appendLine(`${command} failed: ${String(error)}`);
      return undefined;
    }
  };

  // From the palette or a keybinding (no payload: the active selection), or from the
  // server's "Edit with instruction…" code action (payload: uri and an LSP range).
  const editWithInstruction = async (payload?: { uri?: string; range?: Range }) => {
    const editor = vscode.window.activeTextEditor;
    const uri = payload?.uri ?? editor?.document.uri.toString();
    const range =
      payload?.range ??
      (editor ? client!.code2ProtocolConverter.asRange(selectionRange(editor)) : undefined);
    if (!uri || !range) {
      void vscode.window.showWarningMessage('Fathom: open a file and select code to edit.');
      return;
    }
    const instruction = await vscode.window.showInputBox({
      prompt: 'What should Fathom change?',
      placeHolder: 'e.g. Rename describe to describe_item',
      ignoreFocusOut: true,
    });
    if (!instruction?.trim()) return;
    const result = await run<EditResult>(
      EDIT_COMMAND, editArguments(uri, range, instruction),
    );
    if (result?.applied) {
      output.appendLine(`Edit applied in ${result.seconds} s (${result.rounds} rounds)\n${result.diff}`);
    } else if (result && result.reason !== DISCARDED) {
      // Not the user's Discard: VS Code refused it (e.g. the file changed meanwhile).
      void vscode.window.showWarningMessage(
        `Fathom did not apply the change: ${result.reason}. The planned diff is kept in ${result.journal}.`,
      );
    } else if (result) {
      output.info('The proposed change was discarded; nothing changed.');
    }
  };

  context.subscriptions.push(
    vscode.commands.registerCommand(EDIT_WITH_INSTRUCTION, editWithInstruction),
    vscode.commands.registerCommand('fathom.reviewFile', async () => {
      const editor = vscode.window.activeTextEditor;
      if (!editor) return;
      const selection = editor.selection.isEmpty
        ? undefined
        : client!.code2ProtocolConverter.asRange(editor.selection);
      await run(REVIEW_COMMAND, reviewArguments(editor.document.uri.toString(), selection));
    }),
    vscode.commands.registerCommand('fathom.refactor', async () => {
      // The refactors are the server's code actions: one list for every editor.
      await vscode.commands.executeCommand('editor.action.refactor');
    }),
    vscode.commands.registerCommand('fathom.showStatus', async () => {
      const s = await run<Record<string, unknown>>(STATUS_COMMAND, []);
      output.appendLine(JSON.stringify(s, null, 2));
      output.show(true);
    }),
    vscode.commands.registerCommand('fathom.restart', async () => {
      if (!client) return;
      try {
        // A server that does not stop in time is killed by the client; start anyway.
        await client.stop(STOP_TIMEOUT_MS);
      } catch (error) {
        output.warn(`Stopping the server: ${String(error)}; starting a new one.`);
      }
      await start();
    }),
  );
  await start();
}

export async function deactivate(): Promise<void> {
  await client?.stop();
  client = undefined;
}
