/** What both SMS senders check before spending a provider call. */
import { isPossiblePhoneNumber } from "libphonenumber-js";
import { PermanentFailure } from "./types.ts";

/**
 * A number that cannot possibly exist (wrong length for its country, not E.164) is a hard
 * bounce. "Possible" rather than "valid" on purpose: the metadata lags behind new number ranges,
 * and suppressing a real customer's number is worse than one refused API call.
 */
export function assertPhoneNumber(address: string): void {
  if (!address.startsWith("+") || !isPossiblePhoneNumber(address)) {
    throw new PermanentFailure(`not an E.164 phone number: ${JSON.stringify(address)}`, true);
  }
}
