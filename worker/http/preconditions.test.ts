import { describe, expect, it } from 'vitest';
import { evaluatePreconditions, hasPreconditions, rangeApplies } from './preconditions.ts';

const etag = '"abc"';

describe('evaluatePreconditions', () => {
  it('fails If-Match unless one of its tags matches strongly, or it is *', () => {
    expect(evaluatePreconditions({ ifMatch: '"nope"' }, etag)).toBe('precondition_failed');
    expect(evaluatePreconditions({ ifMatch: 'W/"abc"' }, etag)).toBe('precondition_failed');
    expect(evaluatePreconditions({ ifMatch: '' }, etag)).toBe('precondition_failed');
    expect(evaluatePreconditions({ ifMatch: '"abc"' }, etag)).toBe('proceed');
    expect(evaluatePreconditions({ ifMatch: '"nope", "abc"' }, etag)).toBe('proceed');
    expect(evaluatePreconditions({ ifMatch: ' * ' }, etag)).toBe('proceed');
    // A comma belongs to the tag it is in.
    expect(evaluatePreconditions({ ifMatch: '"a,b"' }, '"a,b"')).toBe('proceed');
    expect(evaluatePreconditions({ ifMatch: '"a,b"' }, '"a"')).toBe('precondition_failed');
  });

  it('weighs If-Match before If-None-Match (RFC 9110 §13.2.2)', () => {
    expect(evaluatePreconditions({ ifMatch: '"nope"', ifNoneMatch: etag }, etag)).toBe('precondition_failed');
    expect(evaluatePreconditions({ ifMatch: etag, ifNoneMatch: etag }, etag)).toBe('not_modified');
    expect(evaluatePreconditions({ ifNoneMatch: 'W/"abc"' }, etag)).toBe('not_modified');
    expect(evaluatePreconditions({ ifNoneMatch: '"other"' }, etag)).toBe('proceed');
    expect(evaluatePreconditions({}, etag)).toBe('proceed');
  });

  it('says which requests carry a precondition it weighs', () => {
    expect(hasPreconditions({})).toBe(false);
    expect(hasPreconditions({ ifMatch: '*' })).toBe(true);
    expect(hasPreconditions({ ifNoneMatch: etag })).toBe(true);
  });
});

describe('rangeApplies', () => {
  it('serves a Range without If-Range, or with the current entity-tag', () => {
    expect(rangeApplies(undefined, etag)).toBe(true);
    expect(rangeApplies(' "abc" ', etag)).toBe(true);
  });

  it('serves the whole file for another tag, a weak tag, a list or a date', () => {
    expect(rangeApplies('"deadbeef"', etag)).toBe(false);
    expect(rangeApplies('W/"abc"', etag)).toBe(false);
    expect(rangeApplies('"abc", "def"', etag)).toBe(false);
    expect(rangeApplies('Wed, 21 Oct 2015 07:28:00 GMT', etag)).toBe(false);
    expect(rangeApplies('', etag)).toBe(false);
  });
});
