import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import stringWidth from 'string-width';
import {
  renderDoneLine,
  renderFileView,
  renderPlainProgress,
  type FileView,
} from '../../src/cli/progress-view.js';
import { truncateMiddle } from '../../src/cli/text-width.js';

const MiB = 1024 * 1024;
const longName = `アーカイブ/${'とても長いファイル名'.repeat(6)}-final-version-2026.tar.zst`;
const view: FileView = {
  name: longName,
  bytes: 300 * MiB,
  total: 1024 * MiB,
  bytesPerSecond: 512 * MiB,
  parts: [
    { part: 0, bytes: 100 * MiB, total: 256 * MiB, source: '' },
    { part: 1, bytes: 64 * MiB, total: 256 * MiB, source: '' },
    { part: 2, bytes: 128 * MiB, total: 256 * MiB, source: '' },
    { part: 3, bytes: 8 * MiB, total: 256 * MiB, source: '' },
  ],
};

describe('progress rendering', () => {
  for (const width of [40, 50, 80, 120, 200]) {
    test(`at ${width} columns every line fits, one per part plus a total`, () => {
      for (const color of [false, true]) {
        const lines = renderFileView(view, { width, color });
        assert.equal(lines.length, 5);
        for (const line of lines)
          assert.ok(stringWidth(line) <= width, `${stringWidth(line)} > ${width}: ${line}`);
        assert.match(lines[0] ?? '', /29%/);
        assert.deepEqual(
          lines.slice(1).map((l) => /(\d+)%$/.exec(l)?.[1]),
          ['39', '25', '50', '3'],
        );
        // eslint-disable-next-line no-control-regex
        assert.equal(/\x1b\[/.test(lines.join('')), color, 'escape codes only with colour');
      }
    });
  }

  test('the total line shows bytes, speed and ETA when there is room, and keeps both ends of a long name', () => {
    const [wide] = renderFileView(view, { width: 200, color: false });
    assert.match(wide ?? '', /300 MiB\/1 GiB\s+29% 512 MiB\/s ETA 1\.4s$/);
    const [narrow] = renderFileView(view, { width: 40, color: false });
    assert.match(narrow ?? '', /^アーカ.*….*zst +29% 512 MiB\/s$/);
  });

  test('truncateMiddle counts terminal columns, wide characters included', () => {
    const cut = truncateMiddle('日本語のとても長い名前.txt', 12);
    assert.ok(stringWidth(cut) <= 12, cut);
    assert.match(cut, /^日本.*….*txt$/);
    assert.equal(truncateMiddle('short', 12), 'short');
  });

  test('the done line names the file, size, time, speed and the start of the SHA-256', () => {
    const line = renderDoneLine(
      { file: 'a.bin', size: 10 * MiB, seconds: 2, sha256: 'ab'.repeat(32), bytesPerSecond: 5 * MiB },
      { width: 100, color: false },
    );
    assert.equal(line, '✓ a.bin  10 MiB in 2.0s (5 MiB/s)  verified sha256 abababababab');
  });

  test('plain progress has no escape codes and escapes hostile names', () => {
    const line = renderPlainProgress({ ...view, name: 'x\x1b[2Jy' });
    // eslint-disable-next-line no-control-regex
    assert.doesNotMatch(line, /\x1b/);
    assert.match(line, /^x\\x1b\[2Jy: 300 MiB\/1 GiB 29% 512 MiB\/s parts 0:39% 1:25% 2:50% 3:3%$/);
  });

  for (const width of [40, 50, 80, 120]) {
    test(`at ${width} columns the done line fits and never breaks inside the SHA-256`, () => {
      const sha = '0123456789abcdef'.repeat(4);
      for (const file of ['a.bin', 'photos/2026/holiday/IMG_20260812_153012_HDR.jpg', longName]) {
        const line = renderDoneLine(
          { file, size: 209_715_200, seconds: 3.2, sha256: sha, bytesPerSecond: 65_536_000 },
          { width, color: false },
        );
        assert.ok(stringWidth(line) <= width, `${stringWidth(line)} > ${width}: ${line}`);
        assert.ok(!/sha256/.test(line) || line.endsWith(`sha256 ${sha.slice(0, 12)}`), line);
        assert.match(line, /verified/, line);
      }
    });
  }

  test('a name that fits is never shortened (120 columns), in the done line and the live view', () => {
    const file = 'photos/2026/holiday/IMG_20260812_153012_HDR-panorama-final.jpg';
    const done = (name: string) =>
      renderDoneLine(
        { file: name, size: 209_715_200, seconds: 3.2, sha256: 'ab'.repeat(32), bytesPerSecond: 65_536_000 },
        { width: 120, color: false },
      );
    assert.equal(
      done('photos/IMG_20260812_153012_HDR.jpg'),
      '✓ photos/IMG_20260812_153012_HDR.jpg  200 MiB in 3.2s (62.5 MiB/s)  verified sha256 abababababab',
    );
    // Longer: the time and speed make way before a single character of the name does.
    assert.equal(done(file), `✓ ${file}  200 MiB  verified sha256 abababababab`);
    const [total] = renderFileView({ ...view, name: file }, { width: 119, color: false });
    assert.ok(total?.startsWith(`${file} `), total);
  });

  test("a retry is shown on its part's own line, escaped, and the line still fits", () => {
    const notes = new Map([[2, 'retry 3 in 1.5s: reset\x1b[2J\u202e [ERR_XFER_CLOSED]']]);
    for (const width of [40, 80, 120]) {
      const lines = renderFileView({ ...view, notes }, { width, color: false });
      assert.equal(lines.length, 5);
      for (const line of lines) assert.ok(stringWidth(line) <= width, `${width}: ${line}`);
      assert.match(lines[3] ?? '', /^ {2}part 2 \[.*50% {2}retry 3/);
      assert.doesNotMatch(lines.join(''), /[\x1b\u202e]/); // eslint-disable-line no-control-regex
    }
  });
});
