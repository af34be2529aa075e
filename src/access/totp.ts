/**
 * TOTP second factor (RFC 6238, 30-second steps, 6 digits) with otplib. A code is accepted
 * one step either side of now, and never twice: the last accepted step is kept per user.
 */
import { generate, generateSecret, generateURI, verify } from "otplib";

export const newTotpSecret = () => generateSecret();

export const totpUri = (secret: string, email: string, issuer = "Amends") =>
  generateURI({ issuer, label: email, secret });

/** The code for a moment (for tests and the CLI). */
export const totpCode = (secret: string, at: Date) =>
  generate({ secret, epoch: Math.floor(at.getTime() / 1000) });

/** The time step the code matched, or undefined when it is wrong or already used. */
export async function checkTotp(
  secret: string,
  code: string,
  at: Date,
  lastStep: number | null | undefined,
): Promise<number | undefined> {
  if (!/^\d{6}$/.test(code)) return undefined;
  const result = await verify({
    secret,
    token: code,
    epoch: Math.floor(at.getTime() / 1000),
    epochTolerance: 30,
    ...(lastStep != null && { afterTimeStep: lastStep }),
  });
  // The functional API types HOTP and TOTP results together; a TOTP match carries its time step.
  return result.valid ? (result as { timeStep?: number }).timeStep : undefined;
}
