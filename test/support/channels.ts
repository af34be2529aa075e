/**
 * Where most notification tests catch what was sent: a real SMTP server and Twilio's wire format,
 * with the channel registry that sends e-mail and SMS to them.
 */
import { smtpSender } from "../../src/notifications/channels/email.ts";
import type { ChannelRegistry } from "../../src/notifications/channels/index.ts";
import { twilioSender } from "../../src/notifications/channels/twilio.ts";
import { SmtpFake } from "./fakes/smtp.ts";
import { TwilioFake } from "./fakes/twilio.ts";

export interface ChannelFakes {
  smtp: SmtpFake;
  twilio: TwilioFake;
  channels: ChannelRegistry;
  stop(): Promise<void>;
}

/** `from` is the e-mail sender; SMS go from Twilio's test number that always succeeds. */
export async function startChannelFakes({
  from = "The Fleet <status@fleet.test>",
} = {}): Promise<ChannelFakes> {
  const smtp = await new SmtpFake().start();
  const twilio = await new TwilioFake().start();
  const channels: ChannelRegistry = {
    email: [smtpSender({ url: smtp.url, from })],
    sms: [
      twilioSender({
        accountSid: twilio.accountSid,
        authToken: twilio.authToken,
        from: "+15005550006",
        apiBase: twilio.url,
      }),
    ],
  };
  return {
    smtp,
    twilio,
    channels,
    async stop() {
      await smtp.stop();
      await twilio.stop();
    },
  };
}
