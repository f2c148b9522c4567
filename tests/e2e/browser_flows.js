// Drives the unchanged Vidjil browser (headless Chromium, playwright-core) against a
// Vidjil server: log in, list patients/runs/sets, open a set, create a patient, add a
// sample and upload its file, delete it, open fused results, rename a clone, save,
// reload and find the name, compare two results, log out.
// Environment: BROWSER_URL (the static browser, whose js/conf.js points at the server),
// EMAIL, PASSWORD, CHROMIUM (default /usr/bin/chromium), SHOTS (folder for screenshots).
// Prints one "OK <step> <detail>" line per step; exits 1 at the first failure.
const { chromium } = require('playwright-core');
const fs = require('fs');
const path = require('path');

const BROWSER_URL = process.env.BROWSER_URL;
const EMAIL = process.env.EMAIL, PASSWORD = process.env.PASSWORD;
const SHOTS = process.env.SHOTS || '';
let currentPage = null;
const ok = (step, detail) => console.log(`OK ${step} ${detail === undefined ? '' : JSON.stringify(detail)}`);
const fail = (step, detail) => { throw new Error(`${step}: ${detail}`); };
const panelText = (page) => page.$eval('.db_msg', e => e.innerText.replace(/\s+/g, ' '));
const modelLoaded = (page, min = 1) => page.waitForFunction(
  (n) => typeof m !== 'undefined' && m.clones && m.clones.length > 0 && m.samples.number >= n, min, { timeout: 30000 });

async function login(page) {
  await page.goto(BROWSER_URL);
  await page.waitForSelector('#login, #auth_user_email', { timeout: 20000 });
  if (await page.$('#auth_user_email')) {
    await page.fill('#auth_user_email', EMAIL); await page.fill('#auth_user_password', PASSWORD);
    await page.click('#login_form input[type=submit]');
  } else {
    await page.fill('#login', EMAIL); await page.fill('#password', PASSWORD);
    await page.click('#submit_login');
  }
  await page.waitForSelector('#logout_button', { timeout: 15000 });
}

async function listOf(page, button) {
  await page.click(button);
  await page.waitForTimeout(800);
  return page.$$eval('tr[id^=sample_set_open_]', rows => rows.map(r => r.id));
}

(async () => {
  const browser = await chromium.launch({ executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'] });
  const page = await browser.newPage();
  currentPage = page;
  const httpErrors = [];
  page.on('response', r => { if (r.status() >= 500) httpErrors.push(`${r.status()} ${r.url()}`); });
  page.on('dialog', d => d.accept());
  const shot = async (name) => { if (SHOTS) await page.screenshot({ path: path.join(SHOTS, name + '.png') }); };

  await login(page);
  ok('login', await page.$eval('#login-container', e => e.innerText));

  for (const [name, button] of [['patients', '#db_page_patient'], ['runs', '#db_page_run'], ['sets', '#db_page_set']]) {
    const rows = await listOf(page, button);
    if (!rows.length) fail('list ' + name, 'no row');
    ok('list ' + name, rows.length);
  }
  await listOf(page, '#db_page_patient');
  await shot('1-patients');
  await page.click('tr[id^=sample_set_open_] td.uid');
  await page.waitForSelector('#choose_config', { timeout: 10000 });
  ok('open set', (await panelText(page)).slice(0, 60));

  // create a patient, with characters that must show as typed
  await page.click('#db_page_patient');
  await page.waitForSelector('#create_new_set_type_patient');
  await page.click('#create_new_set_type_patient');
  await page.waitForSelector('#object_form');
  await page.fill('#patient_first_name_0', 'Zoé');
  await page.fill('#patient_last_name_0', '<b>E2e</b>');
  await page.fill('#patient_info_0', 'made by the browser test #e2e');
  await page.click('#object_form input[type=submit]');
  await page.waitForSelector('#add_sample_button', { timeout: 10000 });
  const injected = await page.$$eval('.db_msg b', els => els.filter(e => e.textContent.includes('E2e')).map(e => e.parentElement.outerHTML.slice(0, 300)));
  if (injected.length) fail('create patient', 'a name was rendered as HTML: ' + injected.join(' | '));
  ok('create patient', (await panelText(page)).slice(0, 80));

  // add a sample and upload its file
  await page.click('#add_sample_button');
  await page.waitForSelector('#upload_sample_form', { timeout: 10000 });
  const fasta = path.join(require('os').tmpdir(), `vidjil-e2e-${process.pid}.fa`);
  fs.writeFileSync(fasta, '>r1\nACGTACGTACGTACGTACGTACGTACGTACGTACGTACGTACGTACGTACGT\n');
  await page.setInputFiles('#file_upload_1_0', fasta);
  await page.fill('#file_info_0', 'uploaded by the browser test');
  await page.click('#submit_samples_btn');
  await page.waitForFunction(() => /upload finished/.test(document.body.innerText), null, { timeout: 30000 });
  await page.waitForSelector('[onclick*="file/confirm"]', { state: 'attached', timeout: 15000 });
  fs.unlinkSync(fasta);
  await shot('2-uploaded');
  ok('upload', (await panelText(page)).match(/\d+ sample\(s\)/)[0]);

  // delete it (sample and results)
  await page.evaluate(() => document.querySelector('[onclick*="file/confirm"]').click());
  await page.waitForSelector('[onclick*="file/delete"]', { timeout: 10000 });
  const buttons = await page.$$('[onclick*="file/delete"]');
  await buttons[buttons.length - 1].click();
  await page.waitForFunction(() => /0 sample\(s\)/.test(document.body.innerText), null, { timeout: 15000 });
  ok('delete sample');

  // the demo patient's fused results: open, rename a clone, save, reload
  await listOf(page, '#db_page_patient');
  const link = await page.$('a[id^=result_sample_set_]');
  if (!link) fail('results', 'no fused result in the patient list');
  const linkId = await link.getAttribute('id');
  const [, setId, configId] = linkId.match(/result_sample_set_(\d+)_config_(\d+)/);
  await link.click();
  await modelLoaded(page);
  ok('open results', await page.evaluate(() => ({ clones: m.clones.length, samples: m.samples.number })));
  const newName = `renamed ${Date.now()}`;
  await page.evaluate((name) => { m.clone(0).changeName(name); db.save_analysis(); }, newName);
  await page.waitForFunction(() => /analysis saved/.test(document.body.innerText), null, { timeout: 15000 });
  await page.goto(`${BROWSER_URL.replace(/index\.html.*$/, '')}index.html?sample_set_id=${setId}&config=${configId}`);
  await modelLoaded(page);
  await page.waitForFunction((name) => m.clone(0).getName() === name, newName, { timeout: 15000 });
  ok('saved analysis reloaded', newName);

  // compare: a second analysis of the same sample, then both results side by side
  await page.evaluate((id) => db.call('sample_set/index', { id: id, config_id: -1 }), setId);
  await page.waitForSelector('#choose_config', { timeout: 10000 });
  const other = await page.$$eval('#choose_config option', (opts, current) =>
    opts.map(o => o.value).filter(v => v !== '-1' && v !== current)[0], configId);
  await page.selectOption('#choose_config', other);
  await page.waitForSelector(`[id^=launch_][id$=_${other}]`, { state: 'attached', timeout: 10000 });
  await page.evaluate((c) => document.querySelector(`span[id^=launch_][id$=_${c}]:not([id^=launch_all])`).click(), other);
  // run_request answers a `reload` redirect (its message is not shown): poll the status cell
  for (let i = 0; i < 30; i++) {
    await page.click('#db_reload'); await page.waitForTimeout(1000);
    const status = await page.$$eval(`td[id^=status_][id$=_${other}]`, t => t.map(x => x.innerText.trim()));
    if (status.includes('COMPLETED')) break;
    if (i === 29) fail('second analysis', JSON.stringify(status));
  }
  await page.click('text=compare some of these samples');
  await page.waitForSelector('input[name="custom_result[]"]', { timeout: 10000 });
  for (const box of await page.$$('input[name="custom_result[]"]')) await box.check();
  await page.click('text=see results');
  await modelLoaded(page, 2);
  await shot('3-compare');
  ok('compare', await page.evaluate(() => m.samples.original_names));

  // log out
  await page.evaluate(() => db.call('sample_set/all', { type: 'patient', page: 0 }));
  await page.waitForSelector('#logout_button', { timeout: 10000 });
  await page.click('#logout_button');
  await page.waitForSelector('#login, #auth_user_email', { timeout: 15000 });
  ok('logout');

  if (httpErrors.length) fail('server errors', httpErrors.join(', '));
  await browser.close();
})().catch(async e => {
  console.log('FAIL ' + e.message.split('\n')[0]);
  if (SHOTS && currentPage) await currentPage.screenshot({ path: path.join(SHOTS, 'failure.png') }).catch(() => {});
  process.exit(1);
});
