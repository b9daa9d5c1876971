import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import stringWidth from 'string-width';
import { renderCatalog } from '../../src/cli/render.js';

const files = [
  { name: 'a.txt', size: 5 },
  { name: `archive/${'very-long-name-'.repeat(5)}2026.tar.zst`, size: 209_715_200 },
  { name: 'notes/日本語のメモ.md', size: 3000 },
];

describe('the ls table', () => {
  for (const width of [40, 50, 80, 120]) {
    test(`at ${width} columns no row is wider than the terminal, and each row keeps its size`, () => {
      const lines = renderCatalog(files, width);
      assert.equal(lines.length, 4);
      for (const line of lines)
        assert.ok(stringWidth(line) <= width, `${stringWidth(line)} > ${width}: ${line}`);
      assert.deepEqual(
        lines.map((l) => /\S+ \S+$|SIZE$/.exec(l)?.[0]),
        ['SIZE', '5 B', '200 MiB', '2.9 KiB'],
      );
      const long = files[1]!.name;
      if (width >= long.length + 10)
        assert.ok(lines[2]!.startsWith(`${long} `), 'not shortened when it fits');
      else assert.match(lines[2]!, /^archive\/very.*….*2026\.tar\.zst +200 MiB$/);
    });
  }

  test('without a width (a pipe) every name is whole; a short list is never padded past its widest name', () => {
    const lines = renderCatalog(files);
    assert.ok(lines[2]!.startsWith(`${files[1]!.name}  200 MiB`));
    assert.equal(renderCatalog([{ name: 'x', size: 1 }], 120)[1], 'x     1 B');
  });

  test('hostile names are escaped, never sent raw to the terminal', () => {
    const [, row] = renderCatalog([{ name: 'a\x1b]0;pwned\x07\u202egpj.exe', size: 1 }], 80);
    assert.equal(row, 'a\\x1b]0;pwned\\x07\\u202egpj.exe  1 B');
  });
});
