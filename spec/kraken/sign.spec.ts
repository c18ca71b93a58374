import { describe, expect, it } from '@jest/globals';
import { signRequest } from '../../src/kraken/sign';

const secret = 'kQH5HW/8p1uGOVjbgWA7FunAmGO8lsSUXNsu3eow76sz84Q18fWxnyRzBHCd3pd5nE9qa99HAZtuZuj6F1huXg==';

describe('signRequest', () => {
  it("reproduces Kraken's official test vector", () => {
    const body = 'nonce=1616492376594&ordertype=limit&pair=XBTUSD&price=37500&type=buy&volume=1.25';
    expect(signRequest('/0/private/AddOrder', '1616492376594', body, secret)).toBe(
      '4/dpxb3iT4tp/ZCVEwSnEsLxx0bqyhLpdfOpc6fn7OR8+UClSV5n9E6aSS8MPtnRfp32bAb0nmbRn6H8ndwLUQ==',
    );
  });

  it('accepts the nonce as a number or bigint with the same result', () => {
    const body = 'nonce=1616492376594&ordertype=limit&pair=XBTUSD&price=37500&type=buy&volume=1.25';
    const expected = signRequest('/0/private/AddOrder', '1616492376594', body, secret);
    expect(signRequest('/0/private/AddOrder', 1616492376594, body, secret)).toBe(expected);
    expect(signRequest('/0/private/AddOrder', 1616492376594n, body, secret)).toBe(expected);
  });

  it('signs the exact bytes: a JSON body with a numeric nonce gives its own vector', () => {
    const body = '{"nonce":1616492376594,"ordertype":"limit","pair":"XBTUSD","price":"37500","type":"buy","volume":"1.25"}';
    expect(signRequest('/0/private/AddOrder', 1616492376594, body, secret)).toBe(
      'kMkTQfyYJH05IdnWQ9TIqL9Kq+dKqcD5O/TGPPLRwwy1is/YvqEYtMAHf7tXsqwfbLwp7pbzJzWHxzKPnL8rfA==',
    );
  });

  it('depends on parameter order only through the bytes sent', () => {
    const body = 'nonce=1616492376594&pair=XBTUSD&type=buy&ordertype=limit&price=37500&volume=1.25';
    expect(signRequest('/0/private/AddOrder', 1616492376594, body, secret)).toBe(
      'ZkDyNOy1ddEixXqTNssnO/VGCoTBwHfvcuxYPTvgsfrVpVyzTC2aAScv1v2RU0WflXXnvbGgMEhUGoq9KJRoeg==',
    );
  });
});
