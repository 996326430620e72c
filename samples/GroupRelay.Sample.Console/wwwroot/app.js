// The GroupRelay sample chat page. It talks to two things:
//   - the sample host's HTTP API (same origin): the DEMO LOGIN (no passwords), the user list and the caller's friends;
//   - a relay over WebSocket through the official client, @grouprelay/client, which the relay endpoint itself serves
//     at /relay/client.js (MapGroupRelay; its source is clients/js in the repository).
// Query parameters: ?relay=ws://host:port/relay points the page at another relay, ?token=... uses that token
// instead of the login (it is then moved out of the address bar), ?api=http://host:port sets the HTTP API's origin.

import { GroupRelayClient } from '/relay/client.js';

const params = new URLSearchParams(location.search);
const relayUrl = params.get('relay') || `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/relay`;
const apiBase = (params.get('api') || '').replace(/\/$/, '');
const TOKEN_KEY = 'grouprelay.sample.token';
const STATUS_KEY = 'grouprelay.sample.status';
const STATUS_LABELS = { available: 'Available', away: 'Away', busy: 'Busy', offline: 'Offline' };
const GROUPING_MS = 5 * 60 * 1000;

const $ = id => document.getElementById(id);
const timeFormat = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit' });
const fullFormat = new Intl.DateTimeFormat(undefined, { dateStyle: 'full', timeStyle: 'medium' });

// ---- state ----------------------------------------------------------------------------------------------------

let client = null;
let me = null;
let token = null;
let active = null;                 // the group on screen
const groups = new Map();          // group -> { items: [], unread: 0, online: Set, loading, caughtUp }
const people = new Map();          // user -> { online, status }: friends (or group members when no friends API)
let friendsSource = 'friends';     // 'friends' | 'members' (fallback when the API is not reachable)
let everOpened = false;
let countdownTimer = null;

// ---- start ----------------------------------------------------------------------------------------------------

const urlToken = params.get('token');
if (urlToken) {
  sessionStorage.setItem(TOKEN_KEY, urlToken);
  params.delete('token');
  history.replaceState(null, '', `${location.pathname}${params.size ? '?' + params : ''}${location.hash}`);
}

token = sessionStorage.getItem(TOKEN_KEY);
if (token) startChat(); else showLogin();

// ---- login ----------------------------------------------------------------------------------------------------

async function showLogin(message) {
  $('chat-view').hidden = true;
  $('login-view').hidden = false;
  hideBanner();
  showLoginError(message);
  const picker = $('user-picker');
  picker.replaceChildren(skeleton());
  try {
    const users = await api('/api/users');
    picker.replaceChildren(...users.map(user => {
      const li = document.createElement('li');
      const button = document.createElement('button');
      button.type = 'button';
      button.className = 'user-choice';
      button.dataset.user = user;
      button.append(avatar(user), text('span', 'user-choice-name', user), arrow());
      button.addEventListener('click', () => login(user, button));
      li.append(button);
      return li;
    }));
    picker.querySelector('button')?.focus();
  } catch (error) {
    picker.replaceChildren();
    showLoginError(`Cannot load the users (${error.message}). Is the sample host running?`);
  }
}

function skeleton() {
  const li = document.createElement('li');
  li.className = 'muted';
  li.textContent = 'Loading users…';
  return li;
}

async function login(user, button) {
  showLoginError();
  button.disabled = true;
  try {
    // DEMO LOGIN: the sample host issues a token for any existing user, without a password.
    const response = await fetch(`${apiBase}/api/login`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ user }),
    });
    if (!response.ok) {
      const problem = await response.json().catch(() => ({}));
      throw new Error(problem.error || `the server answered ${response.status}`);
    }
    token = (await response.json()).token;
    sessionStorage.setItem(TOKEN_KEY, token);
    startChat();
  } catch (error) {
    showLoginError(`Sign-in failed: ${error.message}`);
  } finally {
    button.disabled = false;
  }
}

function showLoginError(message) {
  $('login-error').hidden = !message;
  $('login-error').textContent = message || '';
}

function logout(message) {
  client?.stop();
  client = null;
  sessionStorage.removeItem(TOKEN_KEY);
  token = null;
  me = null;
  active = null;
  everOpened = false;
  document.body.classList.remove('is-disconnected');
  groups.clear();
  people.clear();
  showLogin(message);
}

// ---- chat -----------------------------------------------------------------------------------------------------

function startChat() {
  $('login-view').hidden = true;
  $('chat-view').hidden = false;
  $('status-select').value = sessionStorage.getItem(STATUS_KEY) || 'available';
  renderMyStatus();
  setComposerEnabled(false);

  // The token is read at every (re)connect. A refused token (expired, or forged) stops the client after one attempt:
  // it emits 'unauthorized' and waits for a new token, which here means signing in again.
  client = new GroupRelayClient({ url: relayUrl, accessTokenFactory: () => token });
  client.on('state', onState);
  client.on('unauthorized', () => logout('Your session has expired. Please sign in again.'));
  client.on('reset', ({ group }) => onReset(group));
  client.on('welcome', onWelcome);
  client.on('message', onMessage);
  client.on('unrecovered', onUnrecovered);
  client.on('synced', ({ group }) => onCaughtUp(group));
  client.on('joined', ({ group, user }) => onMembership(group, user, true));
  client.on('left', ({ group, user }) => onMembership(group, user, false));
  client.on('presence', ({ user, online, status }) => setPerson(user, online, status));
  client.on('added', ({ group }) => {
    const state = ensureGroup(group);
    state.loading = client.syncing.has(group);
    state.caughtUp = !state.loading;
    refreshMembers(group);
    renderGroups();
    if (!active) selectGroup(group);
  });
  client.on('removed', ({ group }) => onRemoved(group));
  client.on('error', frame => console.warn('relay error', frame));
  client.start().catch(() => { /* reported through the state and unauthorized events */ });
}

async function onWelcome(welcome) {
  const firstWelcome = me === null;
  me = welcome.user;
  $('me-name').textContent = me;
  $('me-avatar').replaceWith(Object.assign(avatar(me), { id: 'me-avatar' }));
  document.title = `${me} · GroupRelay chat`;

  // The client recovers what each group missed (all that is retained, after a reload) before it hands over live
  // messages: until then a group without messages says it is loading, not that it is empty.
  for (const group of welcome.groups) {
    const state = ensureGroup(group);
    state.loading = client.syncing.has(group);
    if (!state.loading) state.caughtUp = true;
  }
  for (const group of [...groups.keys()]) {
    if (!welcome.groups.includes(group)) groups.delete(group);
  }
  if (!active || !groups.has(active)) active = welcome.groups.includes(remembered()) ? remembered() : welcome.groups[0] ?? null;
  renderGroups();
  renderConversation();
  setComposerEnabled(true);

  // The relay forgets a status when the user goes offline; the client sets it again after every reconnect.
  const status = $('status-select').value;
  if (firstWelcome && status !== 'available') client.setStatus(status).catch(() => {});

  await Promise.all([...groups.keys()].map(refreshMembers));
  if (firstWelcome || people.size === 0) await loadPeople();
  else await watchPeople();
  renderConversationMeta();
}

function remembered() {
  return sessionStorage.getItem('grouprelay.sample.group');
}

function ensureGroup(group) {
  // caughtUp: false until the group's past, replayed after sign-in or reload, has been shown (it is not unread).
  if (!groups.has(group)) groups.set(group, { items: [], unread: 0, online: new Set(), loading: false, caughtUp: false });
  return groups.get(group);
}

async function refreshMembers(group) {
  try {
    const result = await client.members(group);
    const state = ensureGroup(group);
    state.online = new Set(result.online);
    if (friendsSource === 'members') {
      for (const user of result.online) if (user !== me && !people.has(user)) people.set(user, { online: true, status: null });
    }
  } catch (error) {
    console.warn(`members of ${group}`, error);
  }
  if (group === active) renderConversationMeta();
}

// Friends come from the sample host's API; the relay tells who is online. When the API cannot be reached (the page
// points at another relay), the panel shows the members of the user's groups instead, which the relay lets it watch.
async function loadPeople() {
  try {
    const { friends } = await api('/api/me/friends', token);
    friendsSource = 'friends';
    people.clear();
    for (const friend of friends) people.set(friend, { online: false, status: null });
  } catch (error) {
    if (error.status === 401) return logout('Your session has expired. Please sign in again.');
    friendsSource = 'members';
    for (const state of groups.values()) {
      for (const user of state.online) if (user !== me) people.set(user, { online: true, status: null });
    }
  }
  $('friends-title').textContent = friendsSource === 'friends' ? 'Friends' : 'People';
  await watchPeople();
}

async function watchPeople() {
  const users = [...people.keys()];
  if (users.length === 0) {
    renderPeople();
    return;
  }
  try {
    const result = await client.watch(users);
    for (const user of users) people.set(user, { online: false, status: null });
    for (const { user, status } of result.online) people.set(user, { online: true, status });
    for (const user of result.forbidden ?? []) people.delete(user);
  } catch (error) {
    console.warn('watch', error);
  }
  renderPeople();
}

function setPerson(user, online, status) {
  if (!people.has(user)) return;
  people.set(user, { online, status: status ?? null });
  renderPeople();
}

function onMessage(frame) {
  const state = ensureGroup(frame.group);
  const item = { kind: 'message', from: frame.from, ts: frame.ts, seq: frame.seq, body: frame.body };
  state.items.push(item);
  if (frame.group === active) {
    appendItem(state, item);
  } else if (frame.from !== me && state.caughtUp) {
    state.unread++;
    renderGroups();
  }
  updateTitle();
}

// The client could not hand over some of a group's messages: say so where they would have been.
function onUnrecovered({ group, from, reason }) {
  const state = ensureGroup(group);
  const text = reason === 'epoch_changed'
    ? 'The relay restarted its history: messages sent while you were away may be missing'
    : from <= 1 ? 'Earlier messages are no longer available'
    : 'Some messages sent while you were away are no longer available';
  const item = { kind: 'notice', ts: null, text, tone: 'gap' };
  state.items.push(item);
  if (group === active) appendItem(state, item);
  if (reason === 'aged_out') loadArchived(group, item);
}

// The relay no longer retains the group's earlier messages, but the app stored every message it accepted
// (SampleMessageStore): show the ones just before the first message the relay still had, from the app's own archive.
async function loadArchived(group, gap) {
  let messages;
  try {
    ({ messages } = await api(`/api/groups/${encodeURIComponent(group)}/messages?limit=200`, token));
  } catch {
    return; // the notice stays as it is: nothing more to show
  }
  const state = ensureGroup(group);
  const at = state.items.indexOf(gap);
  if (at < 0) return;
  const next = state.items.slice(at + 1).find(i => i.kind === 'message');
  // The archive is in storage order; the relay's first retained message is the newest stored row like it.
  let end = messages.length;
  if (next) {
    const k = messages.findLastIndex(m => m.seq === next.seq && m.from === next.from);
    if (k >= 0) end = k;
  }
  const shown = new Set(state.items.filter(i => i.kind === 'message').map(i => `${i.seq}/${i.from}`));
  const older = messages.slice(Math.max(0, end - 50), end)
    .filter(m => !shown.has(`${m.seq}/${m.from}`))
    .map(m => ({ kind: 'message', from: m.from, ts: Date.parse(m.stored), seq: m.seq, body: m.body, archived: true }));
  if (older.length === 0) return;
  gap.text = 'Messages above come from the app\'s archive: the relay no longer keeps them';
  gap.tone = 'archive';
  state.items.splice(at, 0, ...older);
  if (group === active) renderConversation();
}

// The group's numbering restarted while this page was connected (a backplane lost the group's stream). Nothing was
// missed (the client says so with 'unrecovered' otherwise); newer messages start again at seq 1.
function onReset(group) {
  const state = ensureGroup(group);
  const item = { kind: 'notice', ts: Date.now(), text: 'The relay started this group\'s history afresh', tone: 'reset' };
  state.items.push(item);
  if (group === active) appendItem(state, item);
}

function onCaughtUp(group) {
  const state = groups.get(group);
  if (!state) return;
  const wasLoading = state.loading;
  state.loading = false;
  state.caughtUp = true;
  if (group === active && wasLoading && state.items.length === 0) renderConversation();
}

function onMembership(group, user, joined) {
  const state = ensureGroup(group);
  if (joined) state.online.add(user); else state.online.delete(user);
  if (friendsSource === 'members' && user !== me) {
    if (!people.has(user)) {
      people.set(user, { online: joined, status: null });
      client.watch([user]).catch(() => {});
    }
  }
  const item = { kind: 'notice', ts: Date.now(), text: `${user} ${joined ? 'joined' : 'left'}`, tone: joined ? 'joined' : 'left' };
  state.items.push(item);
  if (group === active) {
    appendItem(state, item);
    renderConversationMeta();
  }
}

function onRemoved(group) {
  groups.delete(group);
  if (active === group) active = groups.keys().next().value ?? null;
  renderGroups();
  renderConversation();
}

function selectGroup(group) {
  active = group;
  sessionStorage.setItem('grouprelay.sample.group', group);
  const state = groups.get(group);
  if (state) state.unread = 0;
  renderGroups();
  renderConversation();
  closeDrawers();
  updateTitle();
  $('input').focus();
}

async function sendMessage(event) {
  event.preventDefault();
  const input = $('input');
  const value = input.value.trim();
  if (!value || !active || client?.state !== 'connected') return;
  const group = active;
  input.value = '';
  autoGrow();
  try {
    await client.send(group, { text: value });
  } catch (error) {
    const state = ensureGroup(group);
    // A send waits through reconnects (and is delivered once); it fails only when the relay refuses it, or when the
    // client cannot tell any more whether it went out (outcome_unknown).
    const item = { kind: 'notice', ts: Date.now(), tone: 'error', text: `Not sent: “${truncate(value, 60)}” (${error.message})` };
    state.items.push(item);
    if (group === active) appendItem(state, item);
    if (!input.value) input.value = value;
  }
}

// ---- connection banner ----------------------------------------------------------------------------------------

function onState({ state, delayMs }) {
  clearInterval(countdownTimer);
  document.body.classList.toggle('is-disconnected', state !== 'connected' && everOpened);
  if (state === 'connected') {
    if (everOpened) flashBanner('Connected again', 'ok');
    else hideBanner();
    everOpened = true;
    return;
  }
  setComposerEnabled(false);
  if (state === 'connecting') {
    showBanner(everOpened ? 'Reconnecting…' : 'Connecting…', everOpened ? 'warn' : 'info', false);
  } else if (state === 'reconnecting') {
    const until = Date.now() + delayMs;
    const tick = () => {
      const seconds = Math.max(0, Math.ceil((until - Date.now()) / 1000));
      const lead = everOpened ? 'Connection lost.' : 'Cannot reach the relay.';
      showBanner(seconds > 0 ? `${lead} Reconnecting in ${seconds} s…` : `${lead} Reconnecting…`, 'warn', true);
    };
    tick();
    countdownTimer = setInterval(tick, 500);
  } else if (state === 'disconnected' && client) {
    showBanner('Disconnected.', 'error', true);
  }
}

function showBanner(message, tone, retry) {
  const banner = $('banner');
  banner.hidden = false;
  banner.dataset.tone = tone;
  $('banner-text').textContent = message;
  $('banner-retry').hidden = !retry;
  clearTimeout(banner.hideTimer);
}

function flashBanner(message, tone) {
  showBanner(message, tone, false);
  $('banner').hideTimer = setTimeout(hideBanner, 2000);
}

function hideBanner() {
  clearInterval(countdownTimer);
  $('banner').hidden = true;
}

function setComposerEnabled(enabled) {
  const open = enabled && active !== null;
  $('send').disabled = !open;
  $('input').placeholder = open ? `Message #${active}` : enabled ? 'No group selected' : 'Waiting for the connection…';
  $('composer').classList.toggle('is-disabled', !open);
}

// ---- rendering ------------------------------------------------------------------------------------------------

function renderGroups() {
  const list = $('group-list');
  list.replaceChildren(...[...groups.keys()].sort().map(group => {
    const state = groups.get(group);
    const li = document.createElement('li');
    const button = document.createElement('button');
    button.type = 'button';
    button.className = 'group-item';
    button.dataset.group = group;
    if (group === active) button.setAttribute('aria-current', 'true');
    button.append(text('span', 'group-hash', '#'), text('span', 'group-name', group));
    if (state.unread > 0) {
      const badge = text('span', 'badge', state.unread > 99 ? '99+' : String(state.unread));
      badge.setAttribute('aria-label', `${state.unread} unread`);
      button.append(badge);
      button.classList.add('has-unread');
    }
    button.addEventListener('click', () => selectGroup(group));
    li.append(button);
    return li;
  }));
  if (groups.size === 0) list.replaceChildren(text('li', 'muted empty-groups', 'You are not in any group yet.'));
}

function renderConversation() {
  const messages = $('messages');
  messages.replaceChildren();
  if (!active) {
    $('group-title').textContent = 'No group';
    $('group-meta').textContent = '';
    messages.append(emptyState('You are not in any group', 'Ask an admin to add you, or sign in as someone else.'));
    setComposerEnabled(client?.state === 'connected');
    return;
  }
  const state = groups.get(active);
  $('group-title').replaceChildren(text('span', 'group-hash', '#'), document.createTextNode(active));
  renderConversationMeta();
  if (state.items.length === 0) {
    // Only a group whose whole past was recovered (or that has none) is at its start; a gap shows as a notice item.
    messages.append(state.loading
      ? emptyState('Loading messages…', `Fetching the recent messages of #${active}.`)
      : emptyState(`This is the start of #${active}`, 'Messages sent while you are here appear below. Say hello!'));
  }
  for (const item of state.items) appendItem(state, item, false);
  messages.scrollTop = messages.scrollHeight;
  setComposerEnabled(client?.state === 'connected');
}

function renderConversationMeta() {
  if (!active || !groups.has(active)) return;
  const online = [...groups.get(active).online].sort();
  const meta = $('group-meta');
  if (online.length === 0) {
    meta.textContent = '';
    return;
  }
  const others = online.filter(u => u !== me);
  meta.textContent = others.length === 0
    ? 'Only you are online'
    : `${online.length} online · ${others.length <= 3 ? others.join(', ') : `${others.slice(0, 3).join(', ')} and ${others.length - 3} more`}`;
}

function appendItem(state, item, scroll = true) {
  const messages = $('messages');
  const nearBottom = messages.scrollHeight - messages.scrollTop - messages.clientHeight < 80;
  messages.querySelector('.empty-state')?.remove();
  const index = state.items.indexOf(item);
  const previous = index > 0 ? state.items[index - 1] : null;

  if (item.kind === 'notice') {
    const row = document.createElement('div');
    row.className = `notice notice-${item.tone}`;
    row.append(text('span', 'notice-text', item.text));
    if (item.ts !== null) row.append(time(item.ts));
    messages.append(row);
  } else {
    const continued = previous && previous.kind === 'message' && previous.from === item.from && item.ts - previous.ts < GROUPING_MS;
    const row = document.createElement('div');
    row.className = `message${item.from === me ? ' is-own' : ''}${continued ? ' is-continued' : ''}`;
    row.dataset.from = item.from;
    row.dataset.seq = item.seq;
    if (continued) {
      row.append(text('span', 'avatar-spacer', ''));
    } else {
      row.append(avatar(item.from));
    }
    const content = document.createElement('div');
    content.className = 'message-content';
    if (!continued) {
      const header = document.createElement('div');
      header.className = 'message-header';
      header.append(text('span', 'message-sender', item.from), time(item.ts));
      content.append(header);
    }
    const body = item.body;
    if (body && typeof body === 'object' && typeof body.text === 'string') {
      content.append(text('p', 'message-text', body.text));
    } else {
      content.append(text('pre', 'message-text message-json', JSON.stringify(body)));
    }
    row.append(content);
    messages.append(row);
  }
  if (scroll && (nearBottom || item.from === me)) messages.scrollTop = messages.scrollHeight;
}

function renderPeople() {
  const list = $('friend-list');
  const entries = [...people.entries()].sort(([a, pa], [b, pb]) => (pb.online - pa.online) || a.localeCompare(b));
  list.replaceChildren(...entries.map(([user, { online, status }]) => {
    const state = online ? (STATUS_LABELS[status] ? status : 'available') : 'offline';
    const li = document.createElement('li');
    li.className = `friend is-${state}`;
    li.dataset.friend = user;
    li.dataset.online = String(online);
    li.dataset.status = state;
    const face = avatar(user);
    const dot = text('span', 'presence-dot', '');
    dot.setAttribute('aria-hidden', 'true');
    face.append(dot);
    const info = document.createElement('div');
    info.className = 'friend-info';
    const label = online && status && !STATUS_LABELS[status] ? status : STATUS_LABELS[state];
    info.append(text('span', 'friend-name', user), text('span', 'friend-status', label));
    li.append(face, info);
    li.title = `${user}: ${label}`;
    return li;
  }));
  $('friends-empty').hidden = people.size > 0;
  $('friends-empty').textContent = friendsSource === 'friends' ? 'No friends yet.' : 'Nobody else is online.';
}

function renderMyStatus() {
  $('me-dot').dataset.status = $('status-select').value;
}

function updateTitle() {
  let unread = 0;
  for (const state of groups.values()) unread += state.unread;
  $('open-sidebar').classList.toggle('has-unread', unread > 0);
  const base = me ? `${me} · GroupRelay chat` : 'GroupRelay chat';
  document.title = unread > 0 ? `(${unread}) ${base}` : base;
}

function emptyState(title, detail) {
  const div = document.createElement('div');
  div.className = 'empty-state';
  div.append(text('p', 'empty-title', title), text('p', 'muted', detail));
  return div;
}

// ---- small helpers --------------------------------------------------------------------------------------------

function text(tag, className, value) {
  const el = document.createElement(tag);
  if (className) el.className = className;
  el.textContent = value;
  return el;
}

function avatar(user) {
  const el = document.createElement('span');
  el.className = 'avatar';
  el.textContent = (user[0] || '?').toUpperCase();
  el.style.setProperty('--hue', String(hue(user)));
  el.setAttribute('aria-hidden', 'true');
  return el;
}

function arrow() {
  const el = text('span', 'user-choice-arrow', '→');
  el.setAttribute('aria-hidden', 'true');
  return el;
}

function time(ts) {
  const el = document.createElement('time');
  const date = new Date(ts);
  el.dateTime = date.toISOString();
  el.title = fullFormat.format(date);
  el.textContent = timeFormat.format(date);
  return el;
}

function hue(value) {
  let h = 0;
  for (const ch of value) h = (h * 31 + ch.codePointAt(0)) >>> 0;
  return h % 360;
}

function truncate(value, length) {
  return value.length > length ? `${value.slice(0, length - 1)}…` : value;
}

async function api(path, bearer) {
  const response = await fetch(`${apiBase}${path}`, { headers: bearer ? { Authorization: `Bearer ${bearer}` } : {} });
  if (!response.ok) {
    const error = new Error(`HTTP ${response.status}`);
    error.status = response.status;
    throw error;
  }
  return response.json();
}

function autoGrow() {
  const input = $('input');
  input.style.height = 'auto';
  input.style.height = `${Math.min(input.scrollHeight, 160)}px`;
}

function closeDrawers() {
  document.body.classList.remove('show-sidebar', 'show-friends');
  $('scrim').hidden = true;
}

// ---- wiring ---------------------------------------------------------------------------------------------------

$('composer').addEventListener('submit', sendMessage);
$('input').addEventListener('input', autoGrow);
$('input').addEventListener('keydown', event => {
  if (event.key === 'Enter' && !event.shiftKey && !event.isComposing) {
    event.preventDefault();
    $('composer').requestSubmit();
  }
});
$('status-select').addEventListener('change', () => {
  const value = $('status-select').value;
  sessionStorage.setItem(STATUS_KEY, value);
  renderMyStatus();
  client?.setStatus(value === 'available' ? null : value).catch(error => console.warn('status', error));
});
$('logout').addEventListener('click', () => logout());
$('banner-retry').addEventListener('click', () => client?.state === 'disconnected' ? (client.start().catch(() => {})) : client?.reconnectNow());
$('open-sidebar').addEventListener('click', () => {
  document.body.classList.add('show-sidebar');
  $('scrim').hidden = false;
});
$('toggle-friends').addEventListener('click', () => {
  const show = !document.body.classList.contains('show-friends');
  closeDrawers();
  document.body.classList.toggle('show-friends', show);
  $('scrim').hidden = !show;
});
$('scrim').addEventListener('click', closeDrawers);
document.addEventListener('keydown', event => { if (event.key === 'Escape') closeDrawers(); });
