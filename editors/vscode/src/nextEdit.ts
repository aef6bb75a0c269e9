/**
 * Next-edit suggestions in VS Code: after the user changes a file, `fathom/nextEdit` proposes
 * the edit they are likely to make next. It is shown in place: the lines it replaces marked as
 * removed, its new text after them with the keys (Tab accepts, Escape dismisses: keybindings
 * active only while a suggestion is shown). A suggestion is for one version of the document:
 * a later change drops it, and accepting checks the version first, so a stale one is never
 * applied. A newer request cancels the older (the server aborts the model's work).
 */
import * as vscode from 'vscode';
import type { LanguageClient } from 'vscode-languageclient/node';

import { NEXT_EDIT_REQUEST, type NextEdit, type NextEditResult } from './protocol';

/** The context key the Tab and Escape keybindings wait for. */
const SHOWN_KEY = 'fathom.nextEditShown';
/** The pause after the last change before asking. */
const DELAY_MS = 500;

interface Shown {
  editor: vscode.TextEditor;
  edit: NextEdit;
}

export class NextEdits implements vscode.Disposable {
  private readonly removed = vscode.window.createTextEditorDecorationType({
    isWholeLine: true,
    backgroundColor: new vscode.ThemeColor('diffEditor.removedLineBackground'),
  });
  private readonly added = vscode.window.createTextEditorDecorationType({});
  private shown: Shown | undefined;
  private timer: NodeJS.Timeout | undefined;
  private pending: vscode.CancellationTokenSource | undefined;
  private applying = false;
  private readonly subscriptions: vscode.Disposable[] = [];

  constructor(private readonly client: () => LanguageClient | undefined) {
    this.subscriptions.push(
      vscode.workspace.onDidChangeTextDocument((e) => this.changed(e)),
      vscode.window.onDidChangeActiveTextEditor(() => this.dismiss()),
      vscode.commands.registerCommand('fathom.acceptNextEdit', () => this.accept()),
      vscode.commands.registerCommand('fathom.dismissNextEdit', () => this.dismiss()),
      vscode.commands.registerCommand('fathom.suggestNextEdit', () => this.request(true)),
    );
  }

  private enabled(): boolean {
    return vscode.workspace.getConfiguration('fathom').get<boolean>('nextEdits', true);
  }

  private changed(event: vscode.TextDocumentChangeEvent): void {
    const editor = vscode.window.activeTextEditor;
    if (this.applying || event.contentChanges.length === 0) return;
    if (!editor || editor.document !== event.document || event.document.uri.scheme !== 'file') {
      return;
    }
    this.dismiss(); // for an older version now
    if (!this.enabled()) return;
    this.timer = setTimeout(() => void this.request(false), DELAY_MS);
  }

  /** Ask at the cursor of the active editor; `asked`: the user ran the command. */
  async request(asked: boolean): Promise<void> {
    const editor = vscode.window.activeTextEditor;
    const client = this.client();
    if (!editor || !client?.isRunning()) return;
    this.dismiss();
    const source = new vscode.CancellationTokenSource();
    this.pending = source;
    const version = editor.document.version;
    let result: NextEditResult | undefined;
    try {
      result = await client.sendRequest<NextEditResult>(
        NEXT_EDIT_REQUEST,
        {
          textDocument: { uri: editor.document.uri.toString(), version },
          position: client.code2ProtocolConverter.asPosition(editor.selection.active),
        },
        source.token,
      );
    } catch (error) {
      if (asked && !source.token.isCancellationRequested) {
        void vscode.window.showWarningMessage(`Fathom: no next edit: ${String(error)}`);
      }
      return;
    } finally {
      if (this.pending === source) this.pending = undefined;
      source.dispose();
    }
    const edit = result?.edits.find((e) => e.textDocument.version === editor.document.version);
    if (edit && vscode.window.activeTextEditor === editor) {
      this.show(editor, edit);
    } else if (asked) {
      void vscode.window.showInformationMessage('Fathom: no next edit to suggest here.');
    }
  }

  private show(editor: vscode.TextEditor, edit: NextEdit): void {
    const client = this.client();
    if (!client) return;
    const range = client.protocol2CodeConverter.asRange(edit.range);
    // An edit of whole lines ends at the start of the line after it.
    const last = range.end.character === 0 && range.end.line > range.start.line
      ? range.end.line - 1
      : range.end.line;
    const lines = new vscode.Range(range.start.line, 0, last, 0);
    const text = edit.text.replace(/\n$/, '').split('\n').map((l) => l.trim()).join(' ⏎ ');
    editor.setDecorations(this.removed, [lines]);
    editor.setDecorations(this.added, [{
      range: editor.document.lineAt(last).range,
      renderOptions: {
        after: {
          contentText: `  → ${text}   (Fathom next edit: Tab accepts, Escape dismisses)`,
          color: new vscode.ThemeColor('editorGhostText.foreground'),
          fontStyle: 'italic',
        },
      },
    }]);
    this.shown = { editor, edit };
    void vscode.commands.executeCommand('setContext', SHOWN_KEY, true);
  }

  /** Apply the shown suggestion if its document is still the version it was made for. */
  async accept(): Promise<boolean> {
    const shown = this.shown;
    const client = this.client();
    this.dismiss();
    if (!shown || !client) return false;
    const { editor, edit } = shown;
    if (editor.document.version !== edit.textDocument.version) {
      void vscode.window.showInformationMessage(
        'Fathom: the file changed since the suggestion; it was dropped.',
      );
      return false;
    }
    const change = new vscode.WorkspaceEdit();
    change.replace(editor.document.uri, client.protocol2CodeConverter.asRange(edit.range), edit.text);
    this.applying = true;
    let applied = false;
    try {
      applied = await vscode.workspace.applyEdit(change);
    } finally {
      this.applying = false;
    }
    if (applied && edit.command) {
      // The server's command: its journal records the suggestion taken.
      await vscode.commands.executeCommand(edit.command.command, ...(edit.command.arguments ?? []));
    }
    return applied;
  }

  dismiss(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.pending?.cancel();
    this.pending = undefined;
    if (this.shown) {
      this.shown.editor.setDecorations(this.removed, []);
      this.shown.editor.setDecorations(this.added, []);
      this.shown = undefined;
      void vscode.commands.executeCommand('setContext', SHOWN_KEY, false);
    }
  }

  dispose(): void {
    this.dismiss();
    this.removed.dispose();
    this.added.dispose();
    for (const s of this.subscriptions) s.dispose();
  }
}
