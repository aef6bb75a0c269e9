/**
 * The server's work-done progress, shown where a user can act on it. vscode-languageclient
 * shows every server progress in the status bar only (ProgressLocation.Window), where it
 * cannot be cancelled. A cancellable one (a model job) goes to a notification with a Cancel
 * button here, whose click sends `window/workDoneProgress/cancel`; the others (starting the
 * model, indexing) stay in the status bar.
 */
import * as vscode from 'vscode';
import type { LanguageClient } from 'vscode-languageclient/node';
import {
  type ProgressToken,
  WorkDoneProgress,
  type WorkDoneProgressBegin,
  WorkDoneProgressCancelNotification,
  WorkDoneProgressCreateRequest,
  type WorkDoneProgressReport,
} from 'vscode-languageserver-protocol';

type Step = WorkDoneProgressBegin | WorkDoneProgressReport;

function follow(client: LanguageClient, token: ProgressToken): void {
  let progress: vscode.Progress<{ message?: string; increment?: number }> | undefined;
  let finish: (() => void) | undefined;
  let ended = false;
  let reported = 0;
  const update = (step: Step): void => {
    const percentage = step.percentage;
    const increment = percentage === undefined ? undefined : Math.max(0, percentage - reported);
    if (percentage !== undefined) reported = Math.max(reported, percentage);
    progress?.report({ message: step.message, increment });
  };
  const listener = client.onProgress(WorkDoneProgress.type, token, (value) => {
    if (value.kind === 'begin') {
      const location = value.cancellable
        ? vscode.ProgressLocation.Notification
        : vscode.ProgressLocation.Window;
      void vscode.window.withProgress(
        { location, title: value.title, cancellable: value.cancellable === true },
        (shown, cancel) => {
          progress = shown;
          cancel.onCancellationRequested(() => {
            void client.sendNotification(WorkDoneProgressCancelNotification.type, { token });
          });
          update(value);
          return ended ? Promise.resolve() : new Promise<void>((resolve) => (finish = resolve));
        },
      );
    } else if (value.kind === 'report') {
      update(value);
    } else {
      ended = true;
      listener.dispose();
      finish?.();
    }
  });
}

/** Take over `window/workDoneProgress/create`; call after every start of the client (its
 * own progress feature registers its handler again on each start). */
export function showProgressWhereItCanBeCancelled(client: LanguageClient): void {
  client.onRequest(WorkDoneProgressCreateRequest.type, (params) => follow(client, params.token));
}
