// The secure-link generator page: plain JavaScript, no framework, nothing loaded from elsewhere.
const $ = (id) => document.getElementById(id);

function loginPage() {
  const error = new URLSearchParams(location.search).get('error');
  const messages = {
    wrong: 'That access token is not valid.',
    limited: 'Too many failed attempts from this address: wait a minute, then try again.',
  };
  if (error !== null && messages[error] !== undefined) {
    $('login-error').textContent = messages[error];
    $('token').setAttribute('aria-invalid', 'true');
  }
  $('token').focus();
}

async function api(path, body) {
  const response = await fetch(path, {
    method: body === undefined ? 'GET' : 'POST',
    headers: body === undefined ? {} : { 'Content-Type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
    credentials: 'same-origin',
  });
  if (response.status === 401) {
    location.assign('/login');
    throw new Error('signed out');
  }
  return { status: response.status, body: await response.json() };
}

const pad = (n) => String(n).padStart(2, '0');
/** A datetime-local value for a unix time, in the browser's time zone. */
function localValue(sec) {
  const d = new Date(sec * 1000);
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}
const secondsOf = (value) => (value === '' ? undefined : Math.floor(new Date(value).getTime() / 1000));
const utcText = (sec) => `${new Date(sec * 1000).toISOString().replace('T', ' ').replace('.000Z', '')} UTC`;

/** "in 1 hour", "in 3 days", "2 minutes ago". */
function inWords(sec) {
  const delta = sec - Math.floor(Date.now() / 1000);
  const size = Math.abs(delta);
  const units = [
    ['day', 86400],
    ['hour', 3600],
    ['minute', 60],
    ['second', 1],
  ];
  const [unit, length] = units.find(([, length]) => size >= length) ?? units[3];
  const count = Math.floor(size / length);
  const text = `${count} ${unit}${count === 1 ? '' : 's'}`;
  return delta >= 0 ? `in ${text}` : `${text} ago`;
}

function clearErrors(form) {
  for (const node of form.querySelectorAll('.error')) node.textContent = '';
  for (const node of form.querySelectorAll('[aria-invalid]')) node.removeAttribute('aria-invalid');
}

/**
 * Shows each field error of a refusal (RFC 9457 problem details: `errors[].pointer` names the
 * field) next to its field, in words only; the rest, and a refusal without fields, under the
 * form. Focuses the first field at fault.
 */
function showProblems(answer, fieldIds, general) {
  const errors = answer.errors ?? [{ pointer: '', detail: answer.detail ?? answer.title ?? 'The request was refused.' }];
  let first;
  for (const { pointer, detail } of errors) {
    const field = pointer.split('/')[1];
    const error = field === undefined ? undefined : $(`${field}-error`);
    const target = error ?? general;
    target.textContent = target.textContent === '' ? detail : `${target.textContent} ${detail}`;
    const input = field === undefined ? undefined : $(fieldIds[field] ?? field);
    if (input) input.setAttribute('aria-invalid', 'true');
    first ??= input ?? undefined;
  }
  (first ?? general).focus?.();
}

/**
 * Revokes `link` through the API and says so in `result` (its id and end, or every problem);
 * resolves true once the revocation is stored.
 */
async function revokeLink(link, clientIp, button, result) {
  button.disabled = true;
  const { status, body } = await api('/api/v1/revoke', { link, clientIp, note: 'revoked on the signing page' });
  if (status === 201) {
    result.textContent = `Revoked (${body.revocation.id}): refused from now on, until ${utcText(body.revocation.untilSec)}.`;
    return true;
  }
  button.disabled = false;
  result.textContent = `Not revoked: ${(body.errors?.map((e) => e.detail) ?? [body.detail]).join(' ')}`;
  return false;
}

async function appPage() {
  const routes = (await api('/api/v1/routes')).body.routes;
  const select = $('route');
  for (const route of routes) {
    const option = document.createElement('option');
    option.value = route.name;
    option.textContent = `${route.name} · ${route.prefix} · ${route.scheme}`;
    select.append(option);
  }
  const current = () => routes.find((route) => route.name === select.value);
  const showFields = () => {
    const route = current();
    if (route === undefined) return;
    const show = (name, visible) => {
      for (const node of document.querySelectorAll(`[data-for="${name}"]`)) node.hidden = !visible;
    };
    show('clientIp', route.clientIp !== 'unused');
    show('notBeforeSec', route.signs.includes('notBeforeSec'));
    show('scopeDepth', route.signs.includes('scopeDepth'));
    show('sessionId', route.signs.includes('sessionId'));
    show('cookies', route.signs.includes('cookies'));
    $('clientIp').required = route.clientIp === 'required';
    $('clientIp-note').textContent =
      route.clientIp === 'required'
        ? 'Required: the link works only from this address.'
        : 'Optional: an address or a CIDR range the link is bound to.';
    const carrier = route.options?.carrier ?? 'query';
    $('route-note').textContent = [
      route.stream
        ? `Stream route: sign the playlist (${route.prefix}<channel>/${route.stream.playlist}); the link covers the channel's playlists and segments.`
        : '',
      carrier === 'query' ? '' : `The token travels in a ${carrier}, not in the link.`,
      route.publicBaseUrl ? `Links start with ${route.publicBaseUrl}.` : '',
    ]
      .filter(Boolean)
      .join(' ');
    if ($('path').value === '' || routes.some((r) => r.prefix === $('path').value)) $('path').value = route.prefix;
  };
  select.addEventListener('change', showFields);
  showFields();

  const startSec = () => secondsOf($('start').value);
  const showTimes = () => {
    const start = startSec();
    $('start-utc').textContent = start === undefined ? 'Now.' : `${utcText(start)} (${inWords(start)})`;
    const end = secondsOf($('end').value);
    $('end-utc').textContent = end === undefined ? '' : `${utcText(end)} (${inWords(end)})`;
  };
  $('end').value = localValue(Math.floor(Date.now() / 1000) + 3600);
  for (const id of ['start', 'end']) $(id).addEventListener('input', showTimes);
  for (const button of document.querySelectorAll('.presets button')) {
    button.addEventListener('click', () => {
      $('end').value = localValue((startSec() ?? Math.floor(Date.now() / 1000)) + Number(button.dataset.seconds));
      showTimes();
    });
  }
  showTimes();

  /** The link the generator made last, for its revoke button. */
  let made;
  $('revoke-link').addEventListener('click', () =>
    revokeLink(made.link, made.clientIp, $('revoke-link'), $('revoke-link-result')),
  );

  $('generator').addEventListener('submit', async (event) => {
    event.preventDefault();
    const form = $('generator');
    clearErrors(form);
    const route = current();
    const optional = (id, visible) => (visible && $(id).value.trim() !== '' ? $(id).value.trim() : undefined);
    const body = {
      route: route?.name,
      path: $('path').value.trim(),
      expiresSec: secondsOf($('end').value),
      notBeforeSec: route?.signs.includes('notBeforeSec') ? startSec() : undefined,
      clientIp: optional('clientIp', route?.clientIp !== 'unused'),
      scopeDepth: optional('scopeDepth', route?.signs.includes('scopeDepth')),
      sessionId: optional('sessionId', route?.signs.includes('sessionId')),
      cookies: route?.signs.includes('cookies') && $('cookies').checked ? true : undefined,
    };
    if (body.scopeDepth !== undefined) body.scopeDepth = Number(body.scopeDepth);
    const { status, body: answer } = await api('/api/v1/sign', body);
    if (status !== 200) {
      $('result').hidden = true;
      showProblems(answer, { notBeforeSec: 'start', expiresSec: 'end' }, $('generate-error'));
      return;
    }
    $('result').hidden = false;
    $('link').value = answer.url;
    // Only a route that checks revocations can take the link back.
    $('revoke-made').hidden = !route?.revocation;
    $('revoke-link').disabled = false;
    $('revoke-link-result').textContent = '';
    made = { link: answer.url, clientIp: body.clientIp };
    $('expiry').textContent =
      `Valid ${answer.start ? `from ${utcText(answer.notBeforeSec)} ` : ''}until ${utcText(answer.expiresSec)}: expires ${inWords(answer.expiresSec)}.`;
    const line = answer.cookies
      ? `Cookie: ${answer.cookies.map(({ name, value }) => `${name}=${value}`).join('; ')}`
      : answer.header
        ? `${answer.header.name}: ${answer.header.value}`
        : undefined;
    $('carrier').hidden = line === undefined;
    if (line !== undefined) {
      $('carrier-line').value = line;
      $('curl').value = `curl -H '${line}' '${answer.url}'`;
    }
    $('link').focus();
    $('link').select();
  });
  $('copy').addEventListener('click', async () => {
    try {
      await navigator.clipboard.writeText($('link').value);
      $('copy').textContent = 'Copied';
    } catch {
      $('link').select();
      $('copy').textContent = 'Press Ctrl+C';
    }
  });

  /** The link the check panel explained last, for its revoke button. */
  let lastChecked;
  $('revoke-check').addEventListener('click', async () => {
    const result = $('revoke-check-result');
    if (await revokeLink(lastChecked.link, lastChecked.clientIp, $('revoke-check'), result)) {
      const said = result.textContent;
      // Checked again: the panel now shows the verdict the service gives, and what was done.
      await runCheck();
      $('revoke-checked').hidden = false;
      $('revoke-check').disabled = true;
      result.textContent = said;
    }
  });

  $('checker').addEventListener('submit', (event) => {
    event.preventDefault();
    void runCheck();
  });

  async function runCheck() {
    const form = $('checker');
    clearErrors(form);
    const value = (id) => ($(id).value.trim() === '' ? undefined : $(id).value.trim());
    const headerText = value('check-header');
    const header = headerText === undefined ? undefined : /^([A-Za-z0-9-]+):\s*(.*)$/.exec(headerText);
    if (header === null) {
      $('header-error').textContent = 'Write the header as "Name: value".';
      $('check-header').setAttribute('aria-invalid', 'true');
      $('check-header').focus();
      return;
    }
    const { status, body: answer } = await api('/api/v1/verify', {
      url: value('check-url') ?? '',
      clientIp: value('check-ip'),
      cookie: value('check-cookie'),
      header: header === undefined ? undefined : { name: header[1], value: header[2] },
    });
    const list = $('verdict');
    // An allowed link of a route that checks revocations can be revoked from here.
    const checked = routes.find((route) => route.name === answer.route?.name);
    $('revoke-checked').hidden = !(status === 200 && answer.verdict === 'valid' && checked?.revocation);
    $('revoke-check').disabled = false;
    $('revoke-check-result').textContent = '';
    lastChecked = { link: value('check-url'), clientIp: value('check-ip') };
    if (status !== 200) {
      list.hidden = true;
      showProblems(answer, { url: 'check-url', header: 'check-header' }, $('check-error'));
      return;
    }
    list.replaceChildren();
    const row = (term, detail) => {
      const dt = document.createElement('dt');
      dt.textContent = term;
      const dd = document.createElement('dd');
      dd.textContent = detail;
      list.append(dt, dd);
    };
    row('Answer', `${answer.status} (${answer.verdict})`);
    row('Route', answer.route ? `${answer.route.name} · ${answer.route.prefix} · ${answer.route.scheme}` : 'none');
    row('Why', answer.reason);
    for (const hint of answer.hints) row('Hint', hint);
    if (answer.expiresSec !== null)
      row(answer.verdict === 'expired' ? 'Expired' : 'Expires', `${utcText(answer.expiresSec)} (${inWords(answer.expiresSec)})`);
    list.hidden = false;
  }
}

if (document.getElementById('login') !== null) loginPage();
else
  appPage().catch((error) => {
    if (error.message !== 'signed out') $('generate-error').textContent = `The page could not load the routes: ${error.message}`;
  });
