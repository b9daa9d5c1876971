import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import stringWidth from 'string-width';
import {
  renderDoneLine,
  renderFileView,
  renderPlainProgress,
  truncateMiddle,
  type FileView,
} from '../../src/cli/progress-view.js';

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
  for (const width of [40, 80, 200]) {
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
    assert.match(wide ?? '', /300 MB\/1 GB\s+29% 512 MB\/s ETA 1\.4s$/);
    const [narrow] = renderFileView(view, { width: 40, color: false });
    assert.match(narrow ?? '', /^アーカ.*….*zst +29% 512 MB\/s$/);
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
    assert.equal(line, '✓ a.bin  10 MB in 2.0s (5 MB/s)  verified sha256 abababababab');
  });

  test('plain progress has no escape codes and escapes hostile names', () => {
    const line = renderPlainProgress({ ...view, name: 'x\x1b[2Jy' });
    // eslint-disable-next-line no-control-regex
    assert.doesNotMatch(line, /\x1b/);
    assert.match(line, /^x\\x1b\[2Jy: 300 MB\/1 GB 29% 512 MB\/s parts 0:39% 1:25% 2:50% 3:3%$/);
  });
});
