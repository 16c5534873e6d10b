// A small, strict XML reader for SOAP messages: elements, attributes, text, CDATA and the five
// predefined entities plus character references. No DTDs and no entity expansion beyond those (a
// camera's answer never needs them, and refusing them keeps entity tricks out). Namespace prefixes
// differ between cameras (SOAP-ENV:, s:, env:, soap:), so callers match local names; each element
// also carries its resolved namespace URI for the few places where the namespace matters.

export interface XmlElement {
  /** Local name, without prefix. */
  name: string;
  /** Prefix as written ('' when none). */
  prefix: string;
  /** Namespace URI resolved from the xmlns declarations in scope ('' when none). */
  ns: string;
  /** Attributes by local name (prefixed attributes are also kept under their qualified name). */
  attrs: Record<string, string>;
  children: XmlElement[];
  /** The element's own character data (text and CDATA of direct children), untrimmed. */
  text: string;
}

export class XmlError extends Error {
  override name = 'XmlError';
}

const NAME_START = /[A-Za-z_:\u00C0-\uFFFF]/;
const NAME_CHAR = /[A-Za-z0-9_:.\-\u00B7\u00C0-\uFFFF]/;

function decodeEntities(s: string, at: number): string {
  if (!s.includes('&')) return s;
  return s.replace(/&([^;&\s]{1,10});|&/g, (m, ent: string | undefined) => {
    if (ent === undefined) throw new XmlError(`bare '&' in character data near offset ${at}`);
    switch (ent) {
      case 'lt':
        return '<';
      case 'gt':
        return '>';
      case 'amp':
        return '&';
      case 'quot':
        return '"';
      case 'apos':
        return "'";
    }
    const hex = /^#x([0-9a-fA-F]+)$/.exec(ent);
    const dec = /^#([0-9]+)$/.exec(ent);
    const code = hex ? Number.parseInt(hex[1]!, 16) : dec ? Number.parseInt(dec[1]!, 10) : Number.NaN;
    if (!Number.isFinite(code) || code > 0x10ffff)
      throw new XmlError(`unknown entity ${m} near offset ${at}`);
    return String.fromCodePoint(code);
  });
}

function splitName(qname: string): { prefix: string; local: string } {
  const i = qname.indexOf(':');
  return i < 0 ? { prefix: '', local: qname } : { prefix: qname.slice(0, i), local: qname.slice(i + 1) };
}

interface Open {
  el: XmlElement;
  qname: string;
  scope: Map<string, string>;
}

/** Parses a whole document and returns its root element; throws XmlError on anything not well-formed. */
export function parseXml(input: string | Buffer): XmlElement {
  let s = typeof input === 'string' ? input : input.toString('utf8');
  if (s.charCodeAt(0) === 0xfeff) s = s.slice(1);
  const stack: Open[] = [];
  let root: XmlElement | undefined;
  let i = 0;
  const n = s.length;

  const readName = (): string => {
    const start = i;
    if (i >= n || !NAME_START.test(s[i]!)) throw new XmlError(`expected a name at offset ${i}`);
    i++;
    while (i < n && NAME_CHAR.test(s[i]!)) i++;
    return s.slice(start, i);
  };
  const skipSpace = () => {
    while (i < n && /\s/.test(s[i]!)) i++;
  };
  const addText = (t: string, at: number) => {
    const top = stack[stack.length - 1];
    if (top) top.el.text += t;
    else if (t.trim() !== '') throw new XmlError(`text outside the root element at offset ${at}`);
  };

  while (i < n) {
    const lt = s.indexOf('<', i);
    if (lt < 0) {
      addText(decodeEntities(s.slice(i), i), i);
      break;
    }
    if (lt > i) addText(decodeEntities(s.slice(i, lt), i), i);
    i = lt;
    if (s.startsWith('<?', i)) {
      const end = s.indexOf('?>', i + 2);
      if (end < 0) throw new XmlError(`unterminated processing instruction at offset ${i}`);
      i = end + 2;
    } else if (s.startsWith('<!--', i)) {
      const end = s.indexOf('-->', i + 4);
      if (end < 0) throw new XmlError(`unterminated comment at offset ${i}`);
      i = end + 3;
    } else if (s.startsWith('<![CDATA[', i)) {
      const end = s.indexOf(']]>', i + 9);
      if (end < 0) throw new XmlError(`unterminated CDATA section at offset ${i}`);
      if (stack.length === 0) throw new XmlError(`CDATA outside the root element at offset ${i}`);
      addText(s.slice(i + 9, end), i);
      i = end + 3;
    } else if (s.startsWith('<!', i)) {
      throw new XmlError(`document type declarations are not accepted (offset ${i})`);
    } else if (s.startsWith('</', i)) {
      i += 2;
      const qname = readName();
      skipSpace();
      if (s[i] !== '>') throw new XmlError(`expected '>' at offset ${i}`);
      i++;
      const top = stack.pop();
      if (!top) throw new XmlError(`closing tag </${qname}> without an open element`);
      if (top.qname !== qname) throw new XmlError(`closing tag </${qname}> does not match <${top.qname}>`);
    } else {
      i++;
      const qname = readName();
      const rawAttrs: [string, string][] = [];
      let selfClosing = false;
      for (;;) {
        const before = i;
        skipSpace();
        if (i >= n) throw new XmlError(`unterminated tag <${qname}>`);
        if (s[i] === '>') {
          i++;
          break;
        }
        if (s.startsWith('/>', i)) {
          i += 2;
          selfClosing = true;
          break;
        }
        if (i === before) throw new XmlError(`expected whitespace before an attribute at offset ${i}`);
        const an = readName();
        skipSpace();
        if (s[i] !== '=') throw new XmlError(`attribute ${an} without a value at offset ${i}`);
        i++;
        skipSpace();
        const q = s[i];
        if (q !== '"' && q !== "'") throw new XmlError(`attribute ${an} value not quoted at offset ${i}`);
        const end = s.indexOf(q, i + 1);
        if (end < 0) throw new XmlError(`unterminated attribute ${an}`);
        const raw = s.slice(i + 1, end);
        if (raw.includes('<')) throw new XmlError(`'<' in attribute ${an}`);
        rawAttrs.push([an, decodeEntities(raw, i)]);
        i = end + 1;
      }
      if (stack.length === 0 && root) throw new XmlError(`a second root element <${qname}>`);
      const parentScope = stack[stack.length - 1]?.scope;
      let scope = parentScope ?? new Map<string, string>();
      const attrs: Record<string, string> = {};
      for (const [an, av] of rawAttrs) {
        if (an === 'xmlns' || an.startsWith('xmlns:')) {
          if (scope === parentScope) scope = new Map(parentScope);
          scope.set(an === 'xmlns' ? '' : an.slice(6), av);
          continue;
        }
        const { prefix, local } = splitName(an);
        attrs[local] = av;
        if (prefix) attrs[an] = av;
      }
      const { prefix, local } = splitName(qname);
      const el: XmlElement = {
        name: local,
        prefix,
        ns: scope.get(prefix) ?? '',
        attrs,
        children: [],
        text: '',
      };
      const parent = stack[stack.length - 1];
      if (parent) parent.el.children.push(el);
      else root = el;
      if (!selfClosing) stack.push({ el, qname, scope });
    }
  }
  if (stack.length > 0) throw new XmlError(`document ends inside <${stack[stack.length - 1]!.qname}>`);
  if (!root) throw new XmlError('no root element');
  return root;
}

/** The first child with this local name. */
export function child(el: XmlElement | undefined, name: string): XmlElement | undefined {
  return el?.children.find((c) => c.name === name);
}

/** All children with this local name. */
export function children(el: XmlElement | undefined, name: string): XmlElement[] {
  return el ? el.children.filter((c) => c.name === name) : [];
}

/** Follows a path of local names through first matches. */
export function path(el: XmlElement | undefined, ...names: string[]): XmlElement | undefined {
  let cur = el;
  for (const nm of names) cur = child(cur, nm);
  return cur;
}

/** Trimmed text at a path of local names, or undefined when the element is missing. */
export function textAt(el: XmlElement | undefined, ...names: string[]): string | undefined {
  const e = path(el, ...names);
  return e ? e.text.trim() : undefined;
}

/** Depth-first search for the first descendant (or the element itself) with this local name. */
export function findDeep(el: XmlElement | undefined, name: string): XmlElement | undefined {
  if (!el) return undefined;
  if (el.name === name) return el;
  for (const c of el.children) {
    const f = findDeep(c, name);
    if (f) return f;
  }
  return undefined;
}

/** Escapes text for element content and attribute values. */
export function escapeXml(s: string): string {
  return s.replace(/[<>&"']/g, (c) =>
    c === '<' ? '&lt;' : c === '>' ? '&gt;' : c === '&' ? '&amp;' : c === '"' ? '&quot;' : '&apos;',
  );
}
