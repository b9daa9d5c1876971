import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { addressGroup } from '../../src/server/address-group.js';
import {
  AUTH_FAILURE_WINDOW_MS,
  Admission,
  QUIET_BEFORE_EVICTABLE_MS,
  type AdmissionLimits,
  type Refusal,
  type Ticket,
} from '../../src/server/admission.js';

const LIMITS: AdmissionLimits = { maxConnections: 6, maxConnectionsPerIp: 4, authFailuresPerMinute: 3 };

/** An admission with a hand-driven clock, recording who was dismissed and why. */
function gate(limits: AdmissionLimits = LIMITS) {
  let now = 1_000_000;
  const admission = new Admission(limits, () => now);
  const dismissed: { who: string; refusal: Refusal }[] = [];
  const admit = (address: string, who = address): Ticket => {
    const result = admission.admit(address, (refusal) => dismissed.push({ who, refusal }));
    if (!result.ok) throw Object.assign(new Error(result.refusal.message), { code: result.refusal.code });
    return result.ticket;
  };
  const refusal = (address: string) => {
    const result = admission.admit(address, () => assert.fail('a refused connection is never dismissed'));
    assert.equal(result.ok, false, `${address} was admitted`);
    return result.ok ? undefined : result.refusal;
  };
  return { admission, admit, refusal, dismissed, advance: (ms: number) => (now += ms) };
}

describe('addressGroup', () => {
  test('IPv4 counts alone, IPv4-mapped IPv6 as its IPv4, IPv6 by its /64', () => {
    assert.equal(addressGroup('127.0.0.2'), '127.0.0.2');
    assert.equal(addressGroup('::ffff:127.0.0.2'), '127.0.0.2');
    assert.equal(addressGroup('2001:db8::1'), '2001:db8:0:0::/64');
    assert.equal(addressGroup('2001:0db8:0000:0000:ffff:1:2:3'), '2001:db8:0:0::/64');
    assert.equal(addressGroup('2001:db8:0:1::1'), '2001:db8:0:1::/64');
    assert.equal(addressGroup('::1'), '0:0:0:0::/64');
    assert.equal(addressGroup('fe80::1%eth0'), 'fe80:0:0:0::/64');
    assert.equal(addressGroup('64:ff9b::10.0.0.1'), '64:ff9b:0:0::/64');
    assert.equal(addressGroup(''), '');
  });
});

describe('Admission', () => {
  test('the per-address cap counts every IPv6 address of one /64 together, and an IPv4-mapped address as its IPv4', () => {
    const g = gate();
    for (let i = 1; i <= 4; i++) g.admit(`2001:db8::${i}`);
    assert.equal(g.refusal('2001:db8::ffff:9')?.code, 'ERR_XFER_LIMIT');
    assert.match(g.refusal('2001:db8::5')?.message ?? '', /2001:db8::5 \(2001:db8:0:0::\/64\).*limit 4/);
    g.admit('2001:db8:0:1::1'); // the next /64 is another group
    const mapped = gate();
    for (let i = 0; i < 4; i++) mapped.admit('::ffff:10.1.1.1');
    assert.match(
      mapped.refusal('10.1.1.1')?.message ?? '',
      /^Too many connections from 10\.1\.1\.1 \(limit 4\)/,
    );
    assert.equal(g.admission.countFor('2001:db8::77'), 4);
  });

  test('a released ticket frees its place, once however often it is released', () => {
    const g = gate();
    const tickets = [1, 2, 3, 4].map(() => g.admit('10.0.0.1'));
    g.refusal('10.0.0.1');
    tickets[0]!.release();
    tickets[0]!.release();
    g.admit('10.0.0.1');
    g.refusal('10.0.0.1');
    assert.equal(g.admission.size, 4);
  });

  test('when full, a connection that never worked is closed: from the address holding the most, oldest first', () => {
    const g = gate();
    g.admit('10.0.0.1', 'a1');
    g.admit('10.0.0.2', 'b1');
    g.admit('10.0.0.2', 'b2');
    g.admit('10.0.0.2', 'b3');
    g.admit('10.0.0.1', 'a2').active(); // a1 idle, a2 working
    g.admit('10.0.0.3', 'c1');
    assert.equal(g.admission.size, 6);
    g.admit('10.0.0.9', 'newcomer');
    g.admit('10.0.0.9', 'newcomer 2');
    assert.deepEqual(
      g.dismissed.map((d) => d.who),
      ['b1', 'b2'],
    );
    assert.equal(g.dismissed[0]?.refusal.code, 'ERR_XFER_LIMIT');
    // Now the newcomers' address holds the most idle connections (two; a1, b3 and c1 are alone).
    g.admit('10.0.0.8', 'third');
    assert.equal(g.dismissed.at(-1)?.who, 'newcomer');
    assert.equal(g.admission.size, 6);
  });

  test('a connection on its way out makes room before any other', () => {
    const g = gate({ ...LIMITS, maxConnections: 2 });
    g.admit('10.0.0.1', 'idle');
    g.admit('10.0.0.2', 'failing').closing();
    g.admit('10.0.0.3', 'new');
    assert.deepEqual(
      g.dismissed.map((d) => d.who),
      ['failing'],
    );
  });

  test('busy connections are never closed for room; quiet ones only after a while, the quietest first', () => {
    const g = gate({ ...LIMITS, maxConnections: 3 });
    g.admit('10.0.0.1', 'busy').active();
    const early = g.admit('10.0.0.2', 'early');
    const late = g.admit('10.0.0.3', 'late');
    early.active();
    late.active();
    early.idle();
    g.advance(1000);
    late.idle();
    assert.equal(g.refusal('10.0.0.4')?.code, 'ERR_XFER_LIMIT', 'just quiet is not yet evictable');
    g.advance(QUIET_BEFORE_EVICTABLE_MS);
    g.admit('10.0.0.4', 'newcomer').active();
    assert.deepEqual(
      g.dismissed.map((d) => d.who),
      ['early'],
    );
    late.active(); // working again
    g.advance(QUIET_BEFORE_EVICTABLE_MS * 2);
    assert.match(g.refusal('10.0.0.5')?.message ?? '', /all of them busy/);
  });

  test('an address holding more than twice the newcomer’s share gives up a connection even when all look busy', () => {
    const g = gate({ ...LIMITS, maxConnections: 5 });
    g.admit('10.0.0.1', 'hog 1').active();
    g.admit('10.0.0.1', 'hog 2').active();
    g.admit('10.0.0.1', 'hog 4').active();
    const quiet = g.admit('10.0.0.1', 'hog 3');
    quiet.active();
    quiet.idle();
    g.admit('10.0.0.2', 'other').active();
    g.admit('10.0.0.3', 'newcomer').active();
    assert.deepEqual(
      g.dismissed.map((d) => d.who),
      ['hog 3'],
      'the quiet one of the hog goes first, however recently it worked',
    );
    g.admit('10.0.0.4', 'second newcomer').active();
    assert.deepEqual(
      g.dismissed.map((d) => d.who),
      ['hog 3', 'hog 1'],
    );
    // Now the hog holds two, no more than twice a newcomer's share: everyone busy means a refusal.
    assert.match(g.refusal('10.0.0.5')?.message ?? '', /all of them busy/);
  });

  test('the guess limit closes every connection of the address, refuses new ones and right proofs, for one window', () => {
    const g = gate();
    const attacker = [1, 2, 3, 4].map((i) => g.admit('10.0.0.66', `attacker ${i}`));
    const bystander = g.admit('10.0.0.7', 'bystander');
    assert.equal(attacker[0]!.authFailed(), false);
    assert.equal(attacker[1]!.authFailed(), false);
    assert.equal(attacker[2]!.lockedOut, false);
    assert.equal(attacker[2]!.authFailed(), true, 'the third guess locks the address out');
    assert.deepEqual(
      g.dismissed.map((d) => [d.who, d.refusal.code]),
      attacker.map((_, i) => [`attacker ${i + 1}`, 'ERR_XFER_AUTH']),
    );
    assert.ok(attacker[3]!.lockedOut, 'a connection still holding its ticket sees the lockout');
    assert.equal(bystander.lockedOut, false);
    assert.equal(g.refusal('10.0.0.66')?.code, 'ERR_XFER_AUTH');
    g.admit('10.0.0.7');
    g.advance(AUTH_FAILURE_WINDOW_MS + 1);
    g.admit('10.0.0.66');
  });

  test('guesses from one IPv6 /64 count together, and a full server refuses after close()', () => {
    const g = gate();
    for (let i = 1; i <= 3; i++) g.admit(`2001:db8::${i}`).authFailed();
    assert.equal(g.refusal('2001:db8::abcd')?.code, 'ERR_XFER_AUTH');
    g.admit('2001:db8:1::1');
    g.admission.close({ code: 'ERR_XFER_SHUTDOWN', message: 'The server is shutting down.' });
    assert.equal(g.refusal('10.0.0.1')?.code, 'ERR_XFER_SHUTDOWN');
  });
});
