import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { parseMetalink } from '../../../src/client/http/metalink.js';

const H = (c: string) => c.repeat(64);

const doc = (body: string) => `<?xml version="1.0" encoding="UTF-8"?>
<metalink xmlns="urn:ietf:params:xml:ns:metalink">
  <!-- generated -->
  ${body}
</metalink>`;

describe('Metalink v4', () => {
  test('reads name, size, whole-file sha-256 and sha-256 piece hashes', () => {
    const files = parseMetalink(
      doc(`<file name="a &amp; b.iso">
    <size>2500</size>
    <hash type="sha-1">${'0'.repeat(40)}</hash>
    <hash type="sha-256">${H('a')}</hash>
    <pieces length="1000" type="sha-256"><hash>${H('1')}</hash><hash>${H('2')}</hash><hash>${H('3')}</hash></pieces>
    <url priority="1">http://example.test/a.iso</url>
  </file>`),
    );
    assert.equal(files.length, 1);
    const [f] = files;
    assert.equal(f?.name, 'a & b.iso');
    assert.equal(f?.size, 2500);
    assert.equal(f?.sha256?.toString('hex'), H('a'));
    assert.equal(f?.pieces?.length, 1000);
    assert.deepEqual(
      f?.pieces?.hashes.map((h) => h.toString('hex')),
      [H('1'), H('2'), H('3')],
    );
  });

  test('DOCTYPE, entity definitions, unknown entities and CDATA are refused', () => {
    for (const evil of [
      `<!DOCTYPE m [<!ENTITY x "y">]><metalink/>`,
      doc('<file name="&x;"/>'),
      doc('<file name="a"><size><![CDATA[1]]></size></file>'),
      doc('<?php evil ?>'),
    ]) {
      assert.throws(() => parseMetalink(evil), { code: 'ERR_XFER_CHECKSUM_LIST' }, evil.slice(0, 60));
    }
  });

  test('malformed XML, wrong piece counts and bad hashes are refused whole', () => {
    for (const bad of [
      doc('<file name="a"><size>10</size>'),
      doc('<file name="a"></size></file>'),
      doc(
        `<file name="a"><size>2500</size><pieces length="1000" type="sha-256"><hash>${H('1')}</hash></pieces></file>`,
      ),
      doc(`<file name="a"><hash type="sha-256">${H('a')}0</hash></file>`),
      doc(`<file name="a"><size>-1</size></file>`),
      doc(`<file name="a"><pieces length="0" type="sha-256"/></file>`),
      '<metalink>',
      '<other/>',
      doc('') + '<metalink/>',
      '<a>'.repeat(100) + '</a>'.repeat(100),
      'x'.repeat(5 * 1024 * 1024),
    ]) {
      assert.throws(() => parseMetalink(bad), { code: 'ERR_XFER_CHECKSUM_LIST' }, bad.slice(0, 80));
    }
  });
});
