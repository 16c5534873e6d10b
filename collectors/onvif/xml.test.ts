import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { renderTemplate } from './simulator/fixtures.js';
import { child, escapeXml, findDeep, parseXml, textAt, XmlError } from './xml.js';

const FIXTURES = join(import.meta.dirname, '..', '..', 'test', 'fixtures', 'onvif');

describe('XML reader', () => {
  it('reads every recorded camera answer (templates filled in as the simulator serves them)', () => {
    const files = readdirSync(FIXTURES).filter((f) => f.endsWith('.xml'));
    expect(files.length).toBeGreaterThan(50);
    const ctx = { hostname: '127.0.0.1', port: 80, pullPointUrl: '/pull', now: Date.now };
    for (const f of files) {
      const root = parseXml(renderTemplate(readFileSync(join(FIXTURES, f), 'utf8'), ctx));
      expect(root.name, f).toBe('Envelope');
      expect(child(root, 'Body'), f).toBeDefined();
    }
  });

  it('matches local names whatever the prefix, and resolves namespaces', () => {
    for (const p of ['SOAP-ENV:', 's:', 'env:', '']) {
      const xmlns = p ? `xmlns:${p.slice(0, -1)}` : 'xmlns';
      const root = parseXml(
        `<${p}Envelope ${xmlns}="http://www.w3.org/2003/05/soap-envelope"><${p}Body>` +
          '<m:X xmlns:m="urn:m" a="1" m:b="2"><Y>t</Y></m:X></' +
          `${p}Body></${p}Envelope>`,
      );
      const x = child(child(root, 'Body'), 'X')!;
      expect(root.ns).toBe('http://www.w3.org/2003/05/soap-envelope');
      expect(x.ns).toBe('urn:m');
      expect(x.attrs).toEqual({ a: '1', b: '2', 'm:b': '2' });
      expect(textAt(x, 'Y')).toBe('t');
      expect(child(x, 'Y')!.ns).toBe(p ? '' : 'http://www.w3.org/2003/05/soap-envelope');
    }
  });

  it('decodes entities, character references and CDATA; skips comments and the prolog', () => {
    const root = parseXml(
      '\uFEFF<?xml version="1.0"?><!-- c --><a t="&quot;x&amp;y&#39;"><b>1 &lt; 2 &#x263A; &#65;</b>' +
        '<c><![CDATA[<raw & text>]]></c></a>',
    );
    expect(root.attrs.t).toBe('"x&y\'');
    expect(textAt(root, 'b')).toBe('1 < 2 ☺ A');
    expect(textAt(root, 'c')).toBe('<raw & text>');
    expect(findDeep(root, 'c')?.name).toBe('c');
    expect(escapeXml(`<a href="x">&'`)).toBe('&lt;a href=&quot;x&quot;&gt;&amp;&apos;');
  });

  it.each([
    ['', /no root element/],
    ['<a>', /ends inside <a>/],
    ['<a></b>', /does not match/],
    ['<a><b></a>', /does not match/],
    ['<a/><b/>', /second root/],
    ['text', /outside the root/],
    ['<a x=1/>', /not quoted/],
    ['<a>&bogus;</a>', /unknown entity/],
    ['<a>fish & chips</a>', /bare '&'/],
    ['<!DOCTYPE a [<!ENTITY e "x">]><a>&e;</a>', /document type/],
    ['<html><body>404 Not Found', /ends inside/],
  ])('refuses %j', (xml, why) => {
    expect(() => parseXml(xml)).toThrow(XmlError);
    expect(() => parseXml(xml)).toThrow(why);
  });
});
