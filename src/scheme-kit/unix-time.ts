import { type Rejection, rejection, Verdict } from '../base/verdict.js';

/**
 * Parser for a token's time field: exactly ten ASCII digits, no leading zero (docs/security.md rule 3).
 * Fixed width is what keeps delimiter-free formats unambiguous: `/files/10` + `1470055000`
 * must never equal `/files/1` + `01470055000`. Ten digits cover 2001-09-09 .. 2286-11-20.
 */
export type TimeFieldParser = (text: string) => number | Rejection;

export function timeFieldParser(name: string): TimeFieldParser {
  const wrongLength = rejection(Verdict.malformed, `${name} must be exactly ten digits (unix seconds)`);
  const leadingZero = rejection(Verdict.malformed, `${name} has a leading zero`);
  const notDigit = rejection(Verdict.malformed, `${name} contains a character that is not a digit 0-9`);
  return (text) => {
    if (text.length !== 10) return wrongLength;
    let value = 0;
    for (let i = 0; i < 10; i++) {
      const digit = text.charCodeAt(i) - 48;
      if (digit < 0 || digit > 9) return notDigit;
      value = value * 10 + digit;
    }
    return text.charCodeAt(0) === 48 ? leadingZero : value;
  };
}

/** The canonical text of a time value, as signers write it. */
export function formatUnixTime(seconds: number): string {
  if (!Number.isSafeInteger(seconds) || seconds < 1_000_000_000 || seconds > 9_999_999_999) {
    throw new RangeError(`time ${seconds} is outside the ten-digit unix-seconds range`);
  }
  return String(seconds);
}
