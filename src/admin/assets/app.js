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

const nowSec = () => Math.floor(Date.now() / 1000);
const pad = (n) => String(n).padStart(2, '0');
/** A datetime-local value for a unix time, in the browser's time zone. */
function localValue(sec) {
  const d = new Date(sec * 1000);
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}
const secondsOf = (value) => (value === '' ? undefined : Math.floor(new Date(value).getTime() / 1000));
const utcText = (sec) => `${new Date(sec * 1000).toISOString().replace('T', ' ').replace('.000Z', '')} UTC`;
const plural = (count, unit) => `${count} ${unit}${count === 1 ? '' : 's'}`;

/**
 * "in 1 day", "in 2 hours 5 minutes", "40 seconds ago": rounded to the minute past one minute, so
 * a link made with the "1 day" preset reads "in 1 day", not "in 23 hours" a second later.
 */
function inWords(sec) {
  const delta = sec - nowSec();
  const size = Math.abs(delta);
  let text;
  if (size < 60) text = plural(size, 'second');
  else {
    const minutes = Math.round(size / 60);
    const days = Math.floor(minutes / 1440);
    const hours = Math.floor((minutes % 1440) / 60);
    const rest = minutes % 60;
    if (days > 0) text = `${plural(days, 'day')}${hours > 0 ? ` ${plural(hours, 'hour')}` : ''}`;
    else if (hours > 0) text = `${plural(hours, 'hour')}${rest > 0 ? ` ${plural(rest, 'minute')}` : ''}`;
    else text = plural(rest, 'minute');
  }
  return delta >= 0 ? `in ${text}` : `${text} ago`;
}

function clearErrors(form) {
  for (const node of form.querySelectorAll('.error')) node.textContent = '';
  for (const node of form.querySelectorAll('[aria-invalid]')) node.removeAttribute('aria-invalid');
}

/**
 * Shows each field error of a refusal (RFC 9457 problem details: `errors[].pointer` names the
 * field) next to its field, in words only; the rest, and a refusal without fields, under the
 * form. `fields` maps a body field to its input and error ids. Focuses the first field at fault.
 */
function showProblems(answer, fields, general) {
  const errors = answer.errors ?? [{ pointer: '', detail: answer.detail ?? answer.title ?? 'The request was refused.' }];
  let first;
  for (const { pointer, detail } of errors) {
    const field = fields[pointer.split('/')[1]];
    const error = field === undefined ? undefined : $(field.error);
    const input = field === undefined ? undefined : $(field.input);
    const target = error && input && !input.closest('[hidden]') ? error : general;
    target.textContent = target.textContent === '' ? detail : `${target.textContent} ${detail}`;
    if (target === error) {
      input.setAttribute('aria-invalid', 'true');
      first ??= input;
    }
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

/** The folders of `path` a scope may cover inside `route`: [depth, prefix], shallowest first. */
function scopeChoices(route, path) {
  const folders = path.split('/').slice(1, -1);
  const choices = [];
  for (let depth = 1; depth <= folders.length; depth++) {
    const prefix = `/${folders.slice(0, depth).join('/')}/`;
    if (prefix.startsWith(route.prefix) && prefix.length > route.prefix.length) choices.push([depth, prefix]);
  }
  return choices;
}

/** What a link opens, in words: the path, the scope's folder, or the stream's channel. */
function opensWhat(route, path, scope) {
  if (route.stream) {
    const rest = path.slice(route.prefix.length).split('/');
    const channel = `${route.prefix}${rest.slice(0, route.stream.depth).join('/')}/`;
    return `the stream ${channel}: its playlists and segments`;
  }
  return scope ? `every path under ${scope}` : `${path || route.prefix} only`;
}

/** Everything a link with these fields lets through, one line each. */
function describeLink(route, link) {
  const lines = [`Opens ${opensWhat(route, link.path, link.scope)}.`];
  if (route.clientIp === 'unused') lines.push('From any address (this format binds no client IP).');
  else if (link.clientIp)
    lines.push(link.clientIp.includes('/') ? `From addresses in ${link.clientIp} only.` : `From ${link.clientIp} only.`);
  else if (route.clientIp === 'required') lines.push('From one client IP: give it above.');
  else lines.push('From any address.');
  const end = link.expiresSec === undefined ? 'an end you choose' : `${utcText(link.expiresSec)} (${inWords(link.expiresSec)})`;
  lines.push(`Valid ${link.notBeforeSec ? `from ${utcText(link.notBeforeSec)}` : 'from now'} until ${end}.`);
  const carrier = link.cookies
    ? 'signed cookies'
    : (route.options?.carrier ?? 'query') === 'query'
      ? undefined
      : route.options.carrier === 'bearer'
        ? 'an Authorization: Bearer header'
        : `a ${route.options.carrier}`;
  if (carrier) lines.push(`The token travels in ${carrier}: the client sends it with every request.`);
  if (link.sessionId) lines.push(`Signed with session ${link.sessionId}: revoking the session takes it back.`);
  lines.push(route.revocation ? 'Can be revoked before it ends.' : 'Cannot be revoked: this route does not check revocations.');
  return lines;
}

function fillList(list, lines) {
  list.replaceChildren(
    ...lines.map((line) => {
      const item = document.createElement('li');
      item.textContent = line;
      return item;
    }),
  );
}

async function copyText(text, button) {
  const label = button.textContent;
  try {
    await navigator.clipboard.writeText(text);
    button.textContent = 'Copied';
  } catch {
    button.textContent = 'Select and copy';
  }
  setTimeout(() => {
    button.textContent = label;
  }, 1500);
}

/** The links signed in this tab (sessionStorage: gone when the tab closes), newest first. */
const signedLinks = {
  key: 'tokengate-signed',
  read() {
    try {
      return JSON.parse(sessionStorage.getItem(this.key) ?? '[]');
    } catch {
      return [];
    }
  },
  add(entry) {
    sessionStorage.setItem(this.key, JSON.stringify([entry, ...this.read()].slice(0, 50)));
    this.show();
  },
  show() {
    const entries = this.read();
    $('history').hidden = entries.length === 0;
    $('history-empty').hidden = entries.length > 0;
    $('history')
      .querySelector('tbody')
      .replaceChildren(
        ...entries.map((entry) => {
          const row = document.createElement('tr');
          for (const text of [
            new Date(entry.at * 1000).toLocaleTimeString(),
            entry.route,
            entry.opens,
            inWords(entry.expiresSec),
          ]) {
            const cell = document.createElement('td');
            cell.textContent = text;
            row.append(cell);
          }
          const cell = document.createElement('td');
          const button = document.createElement('button');
          button.type = 'button';
          button.className = 'quiet';
          button.textContent = 'Copy';
          button.setAttribute('aria-label', `Copy the link to ${entry.opens}`);
          button.addEventListener('click', () => copyText(entry.text, button));
          cell.append(button);
          row.append(cell);
          return row;
        }),
      );
  },
};

/** The class of a verdict's colour: allowed, a matter of time, or refused. */
const verdictTone = (verdict) =>
  verdict === 'valid' ? 'ok' : verdict === 'expired' || verdict === 'not-yet-valid' ? 'warn' : 'deny';

async function appPage() {
  const { signer, routes } = (await api('/api/v1/routes')).body;
  $('signer').textContent = `Signed in as ${signer.name}${signer.user ? ` (${signer.user})` : ''}`;
  // A single-sign-on user has no page session to end: the proxy in front signs out.
  if (signer.user) $('logout').hidden = true;
  const select = $('route');
  for (const route of routes) {
    const option = document.createElement('option');
    option.value = route.name;
    option.textContent = `${route.name} · ${route.prefix} · ${route.scheme}`;
    select.append(option);
  }
  if (routes.length === 0) $('generate-error').textContent = `Signer ${signer.name} may sign for no route of this config.`;
  // The check panel asks for a cookie or a header only where some route carries its token so.
  const carries = (carrier) =>
    routes.some(
      (r) =>
        r.options?.carrier === carrier ||
        (carrier === 'cookie' && r.signs.includes('cookies')) ||
        (carrier === 'header' && r.options?.carrier === 'bearer'),
    );
  for (const carrier of ['cookie', 'header']) document.querySelector(`[data-carrier="${carrier}"]`).hidden = !carries(carrier);

  const current = () => routes.find((route) => route.name === select.value);
  const startSec = () => (current()?.signs.includes('notBeforeSec') ? secondsOf($('start').value) : undefined);
  const value = (id) => ($(id).value.trim() === '' ? undefined : $(id).value.trim());
  const visible = (id) => !$(id).closest('[hidden]');
  /** The sign request the form describes now. */
  const request = () => {
    const route = current();
    const scope = visible('scopeDepth') ? value('scopeDepth') : undefined;
    return {
      route: route?.name,
      path: $('path').value.trim(),
      expiresSec: secondsOf($('end').value),
      notBeforeSec: startSec(),
      clientIp: visible('clientIp') ? value('clientIp') : undefined,
      scopeDepth: scope === undefined ? undefined : Number(scope),
      sessionId: visible('sessionId') ? value('sessionId') : undefined,
      cookies: visible('cookies') && $('cookies').checked ? true : undefined,
      baseUrl: $('baseUrl').readOnly ? undefined : value('baseUrl'),
    };
  };

  const showScopes = () => {
    const route = current();
    if (route === undefined) return;
    const kept = $('scopeDepth').value;
    const options = [
      ['', 'This path only'],
      ...scopeChoices(route, $('path').value.trim()).map(([depth, prefix]) => [String(depth), `Everything under ${prefix}`]),
    ];
    $('scopeDepth').replaceChildren(
      ...options.map(([depth, text]) => {
        const option = document.createElement('option');
        option.value = depth;
        option.textContent = text;
        return option;
      }),
    );
    $('scopeDepth').value = options.some(([depth]) => depth === kept) ? kept : '';
  };

  const showPreview = () => {
    const route = current();
    if (route === undefined) return;
    const asked = request();
    const scope =
      asked.scopeDepth === undefined
        ? undefined
        : scopeChoices(route, asked.path).find(([depth]) => depth === asked.scopeDepth)?.[1];
    fillList($('preview-list'), describeLink(route, { ...asked, scope }));
  };

  const showTimes = () => {
    const start = startSec();
    $('start-utc').textContent = start === undefined ? 'Now.' : `${utcText(start)} (${inWords(start)})`;
    const end = secondsOf($('end').value);
    $('end-utc').textContent = end === undefined ? '' : `${utcText(end)} (${inWords(end)})`;
    showPreview();
  };

  /** Fields fit the chosen route: what it does not sign is hidden and emptied, never carried over. */
  let shownRoute;
  const showFields = () => {
    const route = current();
    // The same route chosen again changes nothing.
    if (route === undefined || route === shownRoute) return;
    shownRoute = route;
    const show = (name, shown) => {
      for (const node of document.querySelectorAll(`[data-for="${name}"]`)) node.hidden = !shown;
    };
    show('clientIp', route.clientIp !== 'unused');
    show('notBeforeSec', route.signs.includes('notBeforeSec'));
    show('scopeDepth', route.signs.includes('scopeDepth') && !route.stream);
    show('sessionId', route.signs.includes('sessionId'));
    show('cookies', route.signs.includes('cookies'));
    $('scopeDepth').value = '';
    $('sessionId').value = '';
    $('cookies').checked = false;
    if (route.clientIp === 'unused') $('clientIp').value = '';
    if (!route.signs.includes('notBeforeSec')) $('start').value = '';
    $('clientIp').required = route.clientIp === 'required';
    $('clientIp-note').textContent =
      route.clientIp === 'required'
        ? 'Required: the link works only from this address.'
        : 'Optional: an address, or a CIDR range (198.51.100.0/24), the link is bound to.';
    const fixedBase = route.options?.baseUrl !== undefined;
    $('baseUrl').value = route.publicBaseUrl ?? '';
    $('baseUrl').readOnly = fixedBase;
    $('baseUrl-note').textContent = fixedBase
      ? `This format signs the host: its links always start with ${route.publicBaseUrl}.`
      : 'https://host[:port] of your media server; empty: the link is a path.';
    $('route-note').textContent = route.stream
      ? `Stream route: sign the playlist (${route.prefix}<channel>/${route.stream.playlist}); the link covers the channel's playlists and segments.`
      : '';
    const path = $('path').value.trim();
    if (path === '' || routes.some((r) => r.prefix === path) || !path.startsWith(route.prefix)) $('path').value = route.prefix;
    clearErrors($('generator'));
    showScopes();
    showTimes();
  };
  select.addEventListener('change', showFields);
  $('path').addEventListener('input', () => {
    showScopes();
    showPreview();
  });
  for (const id of ['scopeDepth', 'clientIp', 'sessionId', 'cookies', 'baseUrl']) $(id).addEventListener('input', showPreview);
  for (const id of ['start', 'end']) $(id).addEventListener('input', showTimes);

  for (const button of document.querySelectorAll('.presets button')) {
    const seconds = Number(button.dataset.seconds);
    // Longer than this signer may give: not offered.
    if (signer.maxTtlSec !== null && seconds > signer.maxTtlSec) {
      button.disabled = true;
      button.title = `Signer ${signer.name} may give links at most ${signer.maxTtlSec} s`;
    }
    button.addEventListener('click', () => {
      $('end').value = localValue((startSec() ?? nowSec()) + seconds);
      showTimes();
    });
  }
  $('end').value = localValue(nowSec() + 3600);
  showFields();
  signedLinks.show();
  setInterval(() => {
    showTimes();
    signedLinks.show();
  }, 30_000);

  /** The link the generator made last, for its revoke button. */
  let made;
  $('revoke-link').addEventListener('click', () =>
    revokeLink(made.link, made.clientIp, $('revoke-link'), $('revoke-link-result')),
  );

  const generatorFields = {
    route: { input: 'route', error: 'route-error' },
    path: { input: 'path', error: 'path-error' },
    clientIp: { input: 'clientIp', error: 'clientIp-error' },
    notBeforeSec: { input: 'start', error: 'notBeforeSec-error' },
    expiresSec: { input: 'end', error: 'expiresSec-error' },
    ttlSec: { input: 'end', error: 'expiresSec-error' },
    scopeDepth: { input: 'scopeDepth', error: 'scopeDepth-error' },
    sessionId: { input: 'sessionId', error: 'sessionId-error' },
    cookies: { input: 'cookies', error: 'cookies-error' },
    baseUrl: { input: 'baseUrl', error: 'baseUrl-error' },
  };
  $('generator').addEventListener('submit', async (event) => {
    event.preventDefault();
    const form = $('generator');
    clearErrors(form);
    const route = current();
    const body = request();
    const { status, body: answer } = await api('/api/v1/sign', body);
    if (status !== 200) {
      $('result').hidden = true;
      showProblems(answer, generatorFields, $('generate-error'));
      return;
    }
    $('result').hidden = false;
    $('link').value = answer.url;
    const absolute = /^https?:\/\//.test(answer.url);
    $('open').hidden = !absolute;
    $('open-note').hidden = absolute;
    if (absolute) $('open').href = answer.url;
    // Only a route that checks revocations can take the link back, and only a signer that may revoke.
    $('revoke-made').hidden = !(route?.revocation && signer.revoke);
    $('revoke-link').disabled = false;
    $('revoke-link-result').textContent = '';
    made = { link: answer.url, clientIp: body.clientIp };
    $('expiry').textContent =
      `Valid ${answer.start ? `from ${utcText(answer.notBeforeSec)} ` : ''}until ${utcText(answer.expiresSec)}: expires ${inWords(answer.expiresSec)}.`;
    const covers = describeLink(route, {
      ...body,
      path: answer.path,
      scope: answer.scope,
      cookies: answer.cookies !== undefined && body.cookies,
    });
    fillList($('covers'), covers.slice(0, 2));
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
    signedLinks.add({
      at: nowSec(),
      route: answer.route,
      opens: opensWhat(route, answer.path, answer.scope),
      expiresSec: answer.expiresSec,
      text: line === undefined ? answer.url : `${answer.url}\n${line}`,
    });
    $('link').focus();
    $('link').select();
  });
  $('copy').addEventListener('click', () => copyText($('link').value, $('copy')));

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

  const checkFields = {
    url: { input: 'check-url', error: 'url-error' },
    clientIp: { input: 'check-ip', error: 'clientIp-check-error' },
    cookie: { input: 'check-cookie', error: 'cookie-error' },
    header: { input: 'check-header', error: 'header-error' },
  };
  async function runCheck() {
    const form = $('checker');
    clearErrors(form);
    const shown = (id) => (visible(id) ? value(id) : undefined);
    const headerText = shown('check-header');
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
      cookie: shown('check-cookie'),
      header: header === undefined ? undefined : { name: header[1], value: header[2] },
    });
    // An allowed link of a route that checks revocations can be revoked from here.
    const checked = routes.find((route) => route.name === answer.route?.name);
    $('revoke-checked').hidden = !(status === 200 && answer.verdict === 'valid' && checked?.revocation && signer.revoke);
    $('revoke-check').disabled = false;
    $('revoke-check-result').textContent = '';
    lastChecked = { link: value('check-url'), clientIp: value('check-ip') };
    if (status !== 200) {
      $('verdict-box').hidden = true;
      showProblems(answer, checkFields, $('check-error'));
      return;
    }
    const list = $('verdict');
    list.replaceChildren();
    const row = (term, detail) => {
      const dt = document.createElement('dt');
      dt.textContent = term;
      const dd = document.createElement('dd');
      dd.textContent = detail;
      list.append(dt, dd);
    };
    const tone = verdictTone(answer.verdict);
    $('verdict-box').className = `verdict ${tone}`;
    $('verdict-badge').textContent =
      tone === 'ok'
        ? `Allowed: ${answer.status} ${answer.verdict}`
        : `${tone === 'warn' ? 'Not now' : 'Refused'}: ${answer.status} ${answer.verdict}`;
    row('Answer', `${answer.status} (${answer.verdict})`);
    row('Route', answer.route ? `${answer.route.name} · ${answer.route.prefix} · ${answer.route.scheme}` : 'none');
    row('Why', answer.reason);
    for (const hint of answer.hints) row('Hint', hint);
    if (answer.expiresSec !== null)
      row(answer.verdict === 'expired' ? 'Expired' : 'Expires', `${utcText(answer.expiresSec)} (${inWords(answer.expiresSec)})`);
    $('verdict-box').hidden = false;
  }
}

if (document.getElementById('login') !== null) loginPage();
else
  appPage().catch((error) => {
    if (error.message !== 'signed out') $('generate-error').textContent = `The page could not load the routes: ${error.message}`;
  });
