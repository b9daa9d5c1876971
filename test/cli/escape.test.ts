import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { forTerminal } from '../../src/cli/escape.js';

describe('forTerminal', () => {
  test('shows every character that could steer a terminal as a visible escape', () => {
    assert.equal(forTerminal('\x1b]0;pwned\x07\x1b[2J'), '\\x1b]0;pwned\\x07\\x1b[2J');
    assert.equal(forTerminal('a\u009b31mb'), 'a\\x9b31mb', 'C1 CSI');
    assert.equal(forTerminal('x\ry\nz\x7f'), 'x\\x0dy\\x0az\\x7f');
    assert.equal(forTerminal('\u202egnp.exe'), '\\u202egnp.exe', 'right-to-left override');
    assert.equal(
      forTerminal('\u2066\u2067\u2068\u2069\u200e\u200f\u061c'),
      '\\u2066\\u2067\\u2068\\u2069\\u200e\\u200f\\u061c',
    );
    assert.equal(
      forTerminal('pay\u200bpal\ufeff\u2028\u00ad'),
      'pay\\u200bpal\\ufeff\\u2028\\xad',
      'invisibles',
    );
  });

  test('leaves ordinary text alone, wide characters, emoji sequences and backslashes included', () => {
    for (const text of [
      'movie 01.mkv',
      'notes/日本語.md',
      'family 👨\u200d👩\u200d👧.png',
      'C:\\x1b is text',
      'نیم\u200cفاصله',
    ]) {
      assert.equal(forTerminal(text), text);
    }
  });
});
