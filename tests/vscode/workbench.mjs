// Drives a real VS Code workbench (code-server) in headless Chromium with playwright-core, as a
// user works: command palette, input box, diff view and its dialog, Problems panel, quick fix,
// progress notification, status bar. Started by tests/test_vscode_workbench.py, which runs
// code-server and checks the files and logs; this script reports JSON on stdout, one entry
// per scenario, and saves a PNG of the workbench for every scenario that fails.
//
// argv[2]: JSON {url, workspace, playwright, chromium, out, instruction, cancelInstruction}
import { readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';

const config = JSON.parse(process.argv[2]);
const { chromium } = createRequire(config.playwright)('playwright-core');
const MINUTE = 60_000;

const browser = await chromium.launch({
  executablePath: config.chromium,
  headless: true,
  args: ['--no-sandbox'],
});
const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
const results = [];
const timeline = []; // the Fathom status bar's states as they change: {state, t}
const started = Date.now();

async function fathomState() {
  return page.evaluate(() => {
    const item = document.querySelector('[aria-label^="Fathom status:"]');
    if (item) return item.getAttribute('aria-label').slice('Fathom status: '.length);
    // An extension that labels no state (an older build): read it from the text and icon.
    const items = [...document.querySelectorAll('.statusbar-item')].filter((e) =>
      /^Fathom\b/.test(e.innerText.trim()));
    const texts = items.map((e) => e.innerText.trim());
    if (texts.some((t) => t.startsWith('Fathom: loading'))) return 'loading';
    if (texts.some((t) => /^Fathom: (edit|review|working)/.test(t))) return 'busy';
    if (items.some((e) => e.querySelector('.codicon-check'))) return 'ready';
    return items.length ? 'idle' : 'absent';
  });
}

// The status bar, sampled four times a second for the whole session.
let sampling = true;
const sampler = (async () => {
  while (sampling) {
    try {
      const state = await fathomState();
      if (timeline.length === 0 || timeline[timeline.length - 1].state !== state) {
        timeline.push({ state, t: (Date.now() - started) / 1000 });
      }
    } catch {
      // the page is navigating
    }
    await page.waitForTimeout(250);
  }
})();

async function waitForState(wanted, timeout, after = 0) {
  const deadline = Date.now() + timeout;
  while (Date.now() < deadline) {
    if (timeline.slice(after).some((e) => e.state === wanted)) return;
    await page.waitForTimeout(250);
  }
  throw new Error(`the status bar never said ${wanted} (states: ${JSON.stringify(timeline)})`);
}

async function scenario(name, body) {
  const t0 = Date.now();
  const entry = { name, ok: false, seconds: 0 };
  try {
    Object.assign(entry, (await body()) ?? {});
    entry.ok = true;
  } catch (error) {
    entry.error = String(error?.stack ?? error);
    entry.screenshot = join(config.out, `${name}.png`);
    await page.screenshot({ path: entry.screenshot }).catch(() => {});
    for (let i = 0; i < 3; i++) await page.keyboard.press('Escape');
  }
  entry.seconds = (Date.now() - t0) / 1000;
  results.push(entry);
}

async function palette(title) {
  await page.keyboard.press('F1');
  const input = page.locator('.quick-input-widget input');
  await input.waitFor({ state: 'visible', timeout: 10_000 });
  await input.fill(`>${title}`);
  const row = page.locator('.quick-input-list .monaco-list-row', { hasText: title }).first();
  await row.waitFor({ state: 'visible', timeout: 10_000 });
  await row.click();
}

async function openFile(relative) {
  await page.keyboard.press('Control+P');
  const input = page.locator('.quick-input-widget input');
  await input.waitFor({ state: 'visible', timeout: 10_000 });
  await input.fill(relative);
  const name = relative.split('/').pop();
  // The file itself, not a diff view of it that Quick Open lists among recent editors.
  const row = page
    .locator('.quick-input-list .monaco-list-row', { hasText: name, hasNotText: 'proposed' })
    .first();
  await row.waitFor({ state: 'visible', timeout: 10_000 });
  await row.click();
  // The file's own tab in front (not a diff view whose title holds the name too).
  const tab = `.editor-group-container.active .tab.active[aria-label*="${name}"]`;
  await page.locator(`${tab}:not([aria-label*="proposed"])`).first().waitFor({ timeout: 10_000 });
  await focusEditor();
}

async function focusEditor() {
  await page.locator('.editor-group-container.active .monaco-editor .view-lines').first().click();
}

/** Select whole lines first..last (1-based) in the active editor. */
async function selectLines(first, last) {
  await page.keyboard.press('Control+G');
  await page.locator('.quick-input-widget input').waitFor({ state: 'visible' });
  await page.keyboard.type(String(first));
  await page.keyboard.press('Enter');
  await page.keyboard.press('Home');
  await page.keyboard.press('Home');
  for (let line = first; line <= last; line++) await page.keyboard.press('Shift+ArrowDown');
}

async function editWithInstruction(instruction) {
  await palette('Fathom: Edit with instruction');
  const box = page.locator('.quick-input-widget', { hasText: 'What should Fathom change?' });
  await box.waitFor({ state: 'visible', timeout: 10_000 });
  await page.keyboard.type(instruction);
  await page.keyboard.press('Enter');
}

/** The diff view and its Apply dialog, once the model has written the change. */
async function preview() {
  const dialog = page.locator('.monaco-dialog-box');
  await dialog.waitFor({ state: 'visible', timeout: 10 * MINUTE });
  await page.locator('.monaco-diff-editor').first().waitFor({ state: 'visible' });
  return {
    dialog,
    message: await dialog.locator('.dialog-message-text').innerText(),
    detail: await dialog.locator('.dialog-message-detail').innerText(),
  };
}

async function saveAll() {
  await palette('File: Save All Files');
  await page.waitForTimeout(1000);
}

function disk(relative) {
  return readFileSync(join(config.workspace, relative), 'utf8');
}

const PROPOSED_TAB = '.tab[aria-label*="proposed change"]';

/** The diff views of a proposed change still open, by their tabs' titles. */
async function proposedTabs() {
  return page.locator(PROPOSED_TAB).count();
}

/** Once Apply or Discard is chosen the extension closes the diff view, and the editor takes
 * the focus back: a command palette opened before that would close with the focus change. */
async function diffViewClosed() {
  await page.locator(PROPOSED_TAB).first().waitFor({ state: 'detached', timeout: 10_000 });
  await page.waitForTimeout(500);
}

async function toasts() {
  return page.locator('.notification-toast').allInnerTexts();
}

await page.goto(config.url);
await page.locator('.monaco-workbench').waitFor({ timeout: 2 * MINUTE });

await scenario('ready_before_any_request', async () => {
  // The model loads at start-up: the status bar must say so, then say ready by itself.
  await waitForState('ready', 8 * MINUTE);
  return { readyAt: timeline.find((e) => e.state === 'ready').t };
});

await scenario('edit_apply_then_undo', async () => {
  await openFile('shop/report.py');
  await selectLines(4, 8);
  const before = timeline.length;
  await editWithInstruction(config.instruction);
  const shown = await preview();
  await page.screenshot({ path: join(config.out, 'edit-preview.png') });
  await shown.dialog.locator('.monaco-button', { hasText: 'Apply' }).first().click();
  await shown.dialog.waitFor({ state: 'hidden' });
  await diffViewClosed();
  await waitForState('ready', MINUTE, before + 1);
  await saveAll();
  return {
    message: shown.message,
    detail: shown.detail,
    text: disk('shop/report.py'),
    diffTabs: await proposedTabs(),
  };
});

await scenario('undo_restores', async () => {
  await openFile('shop/report.py');
  await page.keyboard.press('Control+Z');
  await saveAll();
  return { text: disk('shop/report.py') };
});

await scenario('edit_discard', async () => {
  await openFile('shop/report.py');
  await selectLines(4, 8);
  await editWithInstruction(config.instruction);
  const shown = await preview();
  await shown.dialog.locator('.monaco-button', { hasText: /^(Discard|Cancel)$/ }).first().click();
  await shown.dialog.waitFor({ state: 'hidden' });
  await diffViewClosed();
  await page.waitForTimeout(3000); // time for an error toast to show, if one comes
  await saveAll();
  return { toasts: await toasts(), text: disk('shop/report.py'), diffTabs: await proposedTabs() };
});

await scenario('cancel_from_progress_notification', async () => {
  await openFile('shop/report.py');
  await selectLines(4, 8);
  await editWithInstruction(config.cancelInstruction);
  const toast = page.locator('.notification-toast', { hasText: 'Fathom: editing' });
  await toast.waitFor({ state: 'visible', timeout: 2 * MINUTE });
  await page.waitForTimeout(3000); // the model is writing
  await toast.hover();
  await toast.locator('.monaco-button, .action-label', { hasText: 'Cancel' }).first().click();
  await toast.waitFor({ state: 'hidden', timeout: MINUTE });
  await page.waitForTimeout(2000);
  await palette('Fathom: Show status');
  await page.waitForTimeout(2000);
  return { dialogs: await page.locator('.monaco-dialog-box').count() };
});

await scenario('review_then_quick_fix', async () => {
  await openFile('shop/stats.py');
  await palette('Fathom: Review file');
  await palette('View: Focus Problems (Errors, Warnings, Infos)');
  const marker = page.locator('.markers-panel .monaco-list-row', { hasText: 'fathom' });
  await marker.first().waitFor({ state: 'visible', timeout: 10 * MINUTE });
  const findings = await page.locator('.markers-panel .monaco-list-row').allInnerTexts();
  await marker.first().click(); // the cursor goes to the finding
  await page.keyboard.press('Enter');
  await palette('Quick Fix...');
  const fix = page.locator('.action-widget').getByText(/Fathom: Fix/).first();
  await fix.waitFor({ state: 'visible', timeout: 20_000 });
  const offered = await page.locator('.action-widget').first().innerText();
  const fixTitle = await fix.innerText();
  await fix.click();
  // A fix with the model asks first, like an edit; a ready fix applies at once (the buffer
  // turns dirty). Neither within the wait: say what the workbench showed instead.
  const dialog = page.locator('.monaco-dialog-box');
  const dirty = page.locator('.tab.dirty[aria-label*="stats.py"]');
  const deadline = Date.now() + 10 * MINUTE;
  for (;;) {
    if (await dialog.isVisible()) {
      await dialog.locator('.monaco-button', { hasText: 'Apply' }).first().click();
      break;
    }
    if (await dirty.count()) break;
    if (Date.now() > deadline) {
      throw new Error(
        `the fix ${JSON.stringify(fixTitle)} neither asked nor changed the buffer ` +
        `(offered: ${JSON.stringify(offered)}; notifications: ${JSON.stringify(await toasts())})`,
      );
    }
    await page.waitForTimeout(500);
  }
  await page.waitForTimeout(2000);
  await saveAll();
  return { findings, offered, fixTitle, text: disk('shop/stats.py') };
});

await scenario('ghost_text_then_tab', async () => {
  // Typing brings Fathom's inline completion as ghost text; Tab takes it. The file is
  // written now, so the edit and the review before saw the project as it was.
  writeFileSync(join(config.workspace, 'shop/geometry.py'), config.ghostText);
  await openFile('shop/geometry.py');
  await page.keyboard.press('Control+End');
  await page.keyboard.type(' ');
  const ghost = page.locator('.monaco-editor .ghost-text-decoration').first();
  await ghost.waitFor({ state: 'visible', timeout: 5 * MINUTE });
  await page.waitForTimeout(500); // the rest of the line's parts are drawn with it
  // The first line can be drawn in several parts.
  const shown = (await page.locator('.monaco-editor .ghost-text-decoration').allInnerTexts())
    .join('');
  const more = await page.locator('.monaco-editor .ghost-text .view-line').allInnerTexts();
  await page.keyboard.press('Tab');
  await ghost.waitFor({ state: 'hidden', timeout: 10_000 });
  await saveAll();
  return { shown, more, text: disk('shop/geometry.py') };
});

/** Whether a decoration whose text holds `text` has been drawn (VS Code puts a decoration's
 * `after` text into a CSS rule, not into the DOM's text). */
async function decorationDrawn(text) {
  return page.evaluate((wanted) => [...document.styleSheets].some((sheet) => {
    try {
      return [...sheet.cssRules].some((rule) => rule.cssText.includes(wanted));
    } catch {
      return false;
    }
  }), text);
}

await scenario('next_edit_then_tab', async () => {
  // The user renames a variable where it is set; Fathom proposes its other uses; Tab takes it.
  writeFileSync(join(config.workspace, 'shop/cart_total.py'), config.nextText);
  await openFile('shop/cart_total.py');
  await page.keyboard.press('Control+G');
  await page.locator('.quick-input-widget input').waitFor({ state: 'visible' });
  await page.keyboard.type('2');
  await page.keyboard.press('Enter');
  await page.keyboard.press('End');
  await page.keyboard.press('Shift+Home');
  await page.keyboard.type('subtotal = 0');
  await page.keyboard.press('Escape'); // no ghost text in the way of Tab
  const deadline = Date.now() + 5 * MINUTE;
  while (!(await decorationDrawn('Fathom next edit: Tab accepts'))) {
    if (Date.now() > deadline) throw new Error('no next edit was shown');
    await page.waitForTimeout(250);
  }
  await page.screenshot({ path: join(config.out, 'next-edit.png') });
  await page.keyboard.press('Tab');
  await page.waitForTimeout(1000);
  await saveAll();
  return { text: disk('shop/cart_total.py') };
});

await scenario('restart_then_commands_work', async () => {
  const before = timeline.length;
  await palette('Fathom: Restart the server');
  await waitForState('loading', MINUTE, before);
  const restarted = timeline.length;
  await waitForState('ready', 8 * MINUTE, restarted);
  await palette('Fathom: Show status');
  await page.waitForTimeout(2000);
});

sampling = false;
await sampler;
await browser.close();
process.stdout.write(JSON.stringify({ results, timeline }));
